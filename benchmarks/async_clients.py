"""What the asyncio roles of the providers cost: Twilio creates through ``httpx.AsyncClient`` (the backend's) and
through the SDK's ``AsyncTwilioHttpClient`` (aiohttp), and SNS ``Publish`` calls in the backend's pool of threads.

The peer is a minimal keep-alive HTTP/1.1 server in its own process (so it does not share the GIL with the
measured code), answering every request at once or after a delay. Run: ``python benchmarks/async_clients.py``.
The figures quoted in docs/how-to/providers/twilio.md and sns.md come from it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ANSWERS = {
    "twilio": (
        b"201 Created",
        b'{"sid": "SM00000000000000000000000000000001", "status": "queued", "to": "+420777123456", '
        b'"body": "Hello", "num_segments": "1", "direction": "outbound-api", "price": null, "error_code": null}',
    ),
    "sns": (
        b"200 OK",
        b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>'
        b"94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult></PublishResponse>",
    ),
}
TWILIO = "https://api.twilio.com"


def serve(port: int, kind: str, delay: float) -> None:
    """Answer every request on 127.0.0.1:``port`` with the ``kind`` answer, ``delay`` seconds later."""
    status, body = ANSWERS[kind]
    answer = b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)

    class Peer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower().split(b"\r\n")
                length = next((int(line.split(b":")[1]) for line in head if line.startswith(b"content-length:")), 0)
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                asyncio.get_running_loop().call_later(delay, self.transport.write, answer)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Peer, "127.0.0.1", port)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def peer(kind: str, delay: float) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a peer process; its base URL and the process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "serve", str(port), kind, str(delay)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()
    return f"http://127.0.0.1:{port}", process


async def rate(backend: Any, total: int, in_flight: int) -> tuple[float, float]:
    """Messages per second and CPU milliseconds per message, ``in_flight`` one-message calls at a time."""
    from tests.contracts.providers import wire_message

    await backend.apublish([wire_message()])

    async def caller() -> None:
        for _ in range(total // in_flight):
            (outcome,) = await backend.apublish([wire_message()])
            assert outcome.state.name in {"SENDING", "SENT"}, outcome

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(in_flight)))
    elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
    await backend.aclose()
    done = total // in_flight * in_flight
    return done / elapsed, spent / done * 1000


def twilio(base: str) -> None:
    from tests.providers.fake_twilio import LoopbackDeadlineHttpClient
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    from providers._twilio_http import AsyncDeadlineHttpClient
    from providers.twilio import TwilioSMSBackend

    class AioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]
        async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return await super().request(method, url.replace(TWILIO, base, 1), *args, **kwargs)

    class Httpx(AsyncDeadlineHttpClient):
        async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return await super().request(method, url.replace(TWILIO, base, 1), *args, **kwargs)

    clients: dict[str, Callable[[], Any]] = {
        "httpx.AsyncClient": lambda: Httpx(timeout=10.0, max_connections=64),
        "aiohttp (SDK)": AioHttp,
    }
    for in_flight in (1, 10, 50):
        for name, make in clients.items():
            http = LoopbackDeadlineHttpClient(base, timeout=10.0)
            options = {"account_sid": "AC" + "0" * 32, "auth_token": "t", "from_": "+15005550006"}
            backend = TwilioSMSBackend.from_options({**options, "http_client": http, "async_http_client": make})
            runs = [asyncio.run(rate(backend, 2000, in_flight)) for _ in range(3)]
            http.close()
            best, cpu = max(r[0] for r in runs), min(r[1] for r in runs)
            print(f"Twilio {name:18s} {in_flight:3d} in flight: {best:6.0f} creates/s, {cpu:.2f} ms CPU each")


def sns(base: str, delay: float) -> None:
    from providers.sns import SNSSMSBackend

    for threads in (1, 10):
        backend = SNSSMSBackend.from_options(
            {"region": "eu-west-1", "aws_access_key_id": "AK", "aws_secret_access_key": "s", "endpoint_url": base}
            | {"threads": threads}
        )
        per_second, cpu = asyncio.run(rate(backend, 400 if delay else 1000, 20))
        backend.close()
        print(
            f"SNS answer after {delay * 1000:3.0f} ms, threads={threads:2d}: {per_second:6.0f} Publish/s, {cpu:.2f} ms CPU each"
        )


def main() -> None:
    # aiohttp deprecates the auth parameter the SDK's client passes at every request.
    warnings.simplefilter("ignore", DeprecationWarning)
    runs: list[tuple[str, float, Callable[[str], None]]] = [
        ("twilio", 0.0, twilio),
        ("sns", 0.0, lambda base: sns(base, 0.0)),
        ("sns", 0.05, lambda base: sns(base, 0.05)),
    ]
    for kind, delay, measure in runs:
        base, process = peer(kind, delay)
        try:
            measure(base)
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    else:
        main()
