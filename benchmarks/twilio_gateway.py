"""A loopback Twilio-like gateway in its own process, for the benchmark: Twilio's create-message request
(``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded) answered with a Message resource in JSON
(``201``, status ``queued``) ``delay`` seconds after the request arrived, many requests at once.

It runs on an asyncio event loop with a bare HTTP/1.1 protocol (keep-alive, ``Content-Length`` bodies) so that
answering a few thousand requests a second costs it little, and in its own process so that its CPU does not count
against the client measured. It counts the requests per recipient (``To``): a message sent twice shows there.
Driven over stdin, one command a line: ``stats`` (requests served, distinct recipients, the most requests one
recipient got, as JSON), ``dump PATH`` (pickle the recorded ``(path, headers, body)`` of every request to PATH),
``reset`` (forget them), ``quit``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import pickle
import sys
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs

#: The headers a replay needs to make the same request.
_KEPT_HEADERS = (b"authorization", b"content-type", b"user-agent", b"accept")


class Gateway:
    """What the gateway has received, and its answers."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.per_recipient: collections.Counter[str] = collections.Counter()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._sids = itertools.count(1)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.requests.append((path, headers, body))
        form = {name: values[-1] for name, values in parse_qs(body.decode()).items()}
        to = form.get("To", "")
        self.per_recipient[to] += 1
        account = path.split("/")[3] if path.count("/") >= 4 else ""
        sid = "SM" + format(next(self._sids), "032x")
        stamp = formatdate(usegmt=True)
        resource = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        return 201, json.dumps(resource).encode()

    def stats(self) -> dict[str, int]:
        return {
            "requests": len(self.requests),
            "recipients": len(self.per_recipient),
            "most_per_recipient": max(self.per_recipient.values(), default=0),
        }


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parses requests as they come and answers each after the gateway's delay."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            path = head[0].split(b" ")[1].decode()
            kept = {name.decode(): headers[name].decode() for name in _KEPT_HEADERS if name in headers}
            status, answer = self.gateway.answer(path, kept, body)
            asyncio.get_running_loop().call_later(self.gateway.delay, self._send, status, answer)

    def _send(self, status: int, answer: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 %d Created\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(answer), answer)
        )


async def main() -> None:
    options = json.loads(sys.argv[1])
    gateway = Gateway(options["delay"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(gateway), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command, _, argument = line.strip().partition(" ")
        if command == "stats":
            print(json.dumps(gateway.stats()), flush=True)
        elif command == "dump":
            Path(argument).write_bytes(pickle.dumps(gateway.requests))
            print("ok", flush=True)
        elif command == "reset":
            gateway.requests.clear()
            gateway.per_recipient.clear()
            print("ok", flush=True)
        elif command == "quit":
            break
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
