"""A tiny ASGI client for tests: ASGI applications driven in-process from synchronous tests, without a server.

``BlockingASGITransport`` lets an ``httpx.Client`` send its requests to an ASGI application (what
``httpx.WSGITransport`` does for WSGI), so a suite written with ``httpx`` runs unchanged against it;
:func:`running` also runs the application's ``lifespan`` around them, as a server does. :func:`exchange`
plays one HTTP request event by event, as a server would: the body in the chunks given, then ``http.disconnect``
(right away when ``disconnect``); it returns what the application sent and how many events it read.
:func:`lifespan` plays a server's startup and shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import httpx

from smscore.webhooks import ASGIApp

__all__ = ["BlockingASGITransport", "Exchange", "exchange", "lifespan", "running"]


class BlockingASGITransport(httpx.BaseTransport):
    """``httpx.ASGITransport`` for a synchronous ``httpx.Client``: each request runs on ``runner``'s event loop
    (one for all its requests, as under a server); without one, on the transport's own, closed with the client."""

    def __init__(self, app: ASGIApp, *, root_path: str = "", runner: asyncio.Runner | None = None) -> None:
        self._asgi = httpx.ASGITransport(app, root_path=root_path)  # type: ignore[arg-type]
        self._runner = runner or asyncio.Runner()
        self._owns_runner = runner is None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

        return self._runner.run(send())

    def close(self) -> None:
        if self._owns_runner:
            self._runner.close()


@contextlib.contextmanager
def running(app: ASGIApp, *, base_url: str = "http://testserver") -> Iterator[httpx.Client]:
    """``app`` run in-process as a server runs it: its ``lifespan`` started, an ``httpx.Client`` for its requests
    (each scope with a copy of the lifespan's ``state``, as the specification has it), the lifespan shut down when
    the block ends. A startup or shutdown the application reports failed raises ``RuntimeError``."""
    runner = asyncio.Runner()
    state: dict[str, Any] = {}

    async def with_state(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    try:
        life = runner.run(_Lifespan.start(app, state))
        with httpx.Client(transport=BlockingASGITransport(with_state, runner=runner), base_url=base_url) as client:
            yield client
        runner.run(life.stop())
    finally:
        runner.close()


class _Lifespan:
    """An application's ``lifespan`` scope, running as a task while its requests are served."""

    def __init__(self, task: asyncio.Task[None], inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
        self._task, self._inbox, self._outbox = task, inbox, outbox

    @classmethod
    async def start(cls, app: ASGIApp, state: dict[str, Any]) -> _Lifespan:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        outbox: asyncio.Queue[Any] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
        life = cls(asyncio.create_task(app(scope, inbox.get, outbox.put)), inbox, outbox)  # type: ignore[arg-type]
        await life._step("startup")
        return life

    async def stop(self) -> None:
        await self._step("shutdown")
        await self._task

    async def _step(self, step: str) -> None:
        await self._inbox.put({"type": f"lifespan.{step}"})
        answer = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the application's own error, if it raised one
            raise RuntimeError(f"the lifespan ended without answering {step}")
        if answer.result()["type"] != f"lifespan.{step}.complete":
            raise RuntimeError(f"lifespan {step} failed: {answer.result().get('message', '')}")


@attrs.frozen
class Exchange:
    """What the application sent back: ``status`` (None if it never answered), ``headers`` (names lower case),
    ``body``; ``reads``, how many events it received."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    reads: int


async def exchange(
    app: ASGIApp,
    path: str,
    *,
    method: str = "POST",
    chunks: Sequence[bytes] = (b"",),
    headers: Sequence[tuple[str, str]] = (),
    root_path: str = "",
    query: bytes = b"",
    disconnect: bool = False,
) -> Exchange:
    """One request to ``app`` at ``path`` (the full path: ``root_path`` included, as the specification has it)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query,
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "server": ("10.0.0.5", 8000),
        "client": ("10.0.0.1", 51000),
    }
    events: list[dict[str, Any]] = (
        []
        if disconnect
        else [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
        ]
    )
    sent: list[dict[str, Any]] = []
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return Exchange(None, {}, b"", reads)
    answer_headers = {bytes(k).decode("latin-1"): bytes(v).decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Exchange(start["status"], answer_headers, body, reads)


async def lifespan(app: ASGIApp) -> list[str]:
    """A server's startup then shutdown through ``app``'s ``lifespan`` scope: the types of the events it sent."""
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent
