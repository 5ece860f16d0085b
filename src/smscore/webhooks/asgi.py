"""The ASGI webhook applications, for :class:`~smscore.service.AsyncSMSService`: what is particular to ASGI (the
scope, the body read message by message, the ``lifespan`` protocol) around the decisions of
:mod:`smscore.webhooks.decisions`, with no web framework."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from smscore.webhooks.decisions import (
    MAX_CALLBACK_BODY,
    NOT_FOUND,
    REFUSED,
    TOO_LARGE,
    Answer,
    Endpoint,
    refusal,
    request_host,
    router,
)

if TYPE_CHECKING:  # asyncio is loaded by those who serve ASGI, not by every import of smscore.webhooks
    from smscore.service import AsyncSMSService

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "asgi_inbound_app",
    "asgi_status_callback_app",
    "asgi_webhook_app",
]

log = logging.getLogger("smscore.webhooks")

#: An ASGI connection scope.
Scope = MutableMapping[str, Any]
#: An ASGI event, received or sent.
Message = MutableMapping[str, Any]
#: ASGI's ``receive()``.
Receive = Callable[[], Awaitable[Message]]
#: ASGI's ``send(message)``.
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def asgi_status_callback_app(
    service: AsyncSMSService, provider: str, *, public_base_url: str | None = None, close_service: bool = False
) -> ASGIApp:
    """An ASGI application applying the status callbacks of the provider named ``provider``: the twin of
    :func:`~smscore.webhooks.status_callback_app`, same answers, same URL rules (``root_path`` playing the part of
    ``SCRIPT_NAME``). ``close_service``: await ``service.aclose()`` at the ``lifespan`` shutdown, for an
    application that is the server's own and owns the service (mounted in a framework, it never sees one)."""
    endpoint = Endpoint.of("status", provider, public_base_url, service.config.public_base_url)
    return _app(service, lambda path: endpoint, close_service=close_service)


def asgi_inbound_app(
    service: AsyncSMSService, provider: str, *, public_base_url: str | None = None, close_service: bool = False
) -> ASGIApp:
    """An ASGI application receiving the SMS the provider named ``provider`` pushes: the twin of
    :func:`~smscore.webhooks.inbound_app`; ``public_base_url`` and ``close_service`` as in
    :func:`asgi_status_callback_app`."""
    endpoint = Endpoint.of("inbound", provider, public_base_url, service.config.public_base_url)
    return _app(service, lambda path: endpoint, close_service=close_service)


def asgi_webhook_app(service: AsyncSMSService, *, close_service: bool = False) -> ASGIApp:
    """One ASGI application for every provider of ``service``: the twin of :func:`~smscore.webhooks.webhook_app`
    (``POST /status/<name>/``, ``POST /inbound/<name>/``, 404 for any other path). Mount it where
    ``public_base_url`` points (FastAPI, Starlette: ``app.mount("/sms", asgi_webhook_app(service))``);
    ``close_service`` as in :func:`asgi_status_callback_app`."""
    return _app(service, router(service.providers, service.config.public_base_url), close_service=close_service)


class _Gone(Exception):
    """The client disconnected before its request was read."""


def _app(service: AsyncSMSService, endpoint_of: Callable[[str], Endpoint | None], *, close_service: bool) -> ASGIApp:
    """An ASGI application serving the endpoint ``endpoint_of`` the path below its ``root_path`` (404 for None)."""
    if not inspect.iscoroutinefunction(service.handle_status_callback):
        raise TypeError("an ASGI application needs an AsyncSMSService (smscore.build_async_service)")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, service if close_service else None)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close"})  # before accepting: the server refuses the handshake
            return
        if scope["type"] != "http":
            raise ValueError(f"an ASGI webhook application serves HTTP, not {scope['type']!r}")
        mount = str(scope.get("root_path", ""))
        path = str(scope["path"])
        # The path includes root_path (the ASGI specification); servers that give only the rest are understood.
        if mount and path.startswith(mount):
            path = path[len(mount) :]
        endpoint = endpoint_of(path)
        if endpoint is None:
            await _answer(send, NOT_FOUND)
            return
        headers = _headers(scope)
        refused = refusal(str(scope["method"]), headers.get("content-length"))
        if refused is not None:
            await _answer(send, refused)
            return
        try:
            body = await _body(receive)
        except _Gone:
            return
        if body is None:
            await _answer(send, TOO_LARGE)
            return
        scheme = str(scope.get("scheme", "http"))
        server_name, server_port = scope.get("server") or ("", None)
        request = endpoint.request(
            scheme=scheme,
            host=request_host(scheme, headers.get("host"), str(server_name), server_port),
            mount=mount,
            path=path,
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            body=body,
            headers=headers,
        )
        try:
            await endpoint.deliver(service, request)
        except REFUSED as error:
            await _answer(send, endpoint.refused(error))
            return
        await _answer(send, endpoint.ok)

    return app


async def _body(receive: Receive) -> bytes | None:
    """The request body, read event by event; None as soon as it passes :data:`MAX_CALLBACK_BODY` (the rest is
    never read, whatever ``Content-Length`` said or did not say). Raises :class:`_Gone`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_CALLBACK_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send, owned: AsyncSMSService | None) -> None:
    """Accept the server's startup and shutdown; at shutdown, close the ``owned`` service."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                if owned is not None:
                    await owned.aclose()
            except Exception as exc:
                log.exception("closing the SMS service at shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__}: {exc}"})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers, names lower case; a repeated header's values joined with commas (RFC 9110)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def _answer(send: Send, answer: Answer) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    await send({"type": "http.response.start", "status": answer.code, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
