"""Receiving what providers push (Twilio status callbacks, inbound SMS from Twilio and Amazon SNS), without a web
framework.

:func:`callback_url` rebuilds the URL the provider called, which signatures are computed over: behind a proxy
or a load balancer the application sees another host, scheme or port, so a configured ``public_base_url``
(``https://sms.example.com``) replaces what the request says. :func:`status_callback_app` is a WSGI application
for one provider name::

    from wsgiref.simple_server import make_server
    import smscore
    from smscore.webhooks import status_callback_app

    service = smscore.build_service()           # with a twilio provider and public_base_url configured
    make_server("", 8000, status_callback_app(service, "default")).serve_forever()

:func:`inbound_app` does the same for the SMS a provider receives, and :func:`webhook_app` serves both for every
provider, at ``/status/<name>/`` and ``/inbound/<name>/``.

It answers 200 when the report was applied (or names no message we know), 403 when the signature does not
verify, 413 for a body over 64 KiB, 400 for anything else wrong with the request, and 405 for a method
other than POST. Django projects use
the view in ``adapters_django.urls`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from smscore.errors import CallbackError, InvalidSignatureError
from smscore.inbound import WebhookRequest
from smscore.ports import InboundReceiver, StatusCallbackReceiver
from smscore.service import SMSService

__all__ = ["EMPTY_TWIML", "MAX_CALLBACK_BODY", "callback_url", "inbound_app", "status_callback_app", "webhook_app"]

log = logging.getLogger("smscore.webhooks")

#: Largest request body accepted, in bytes (a Twilio status callback is well under 2 KiB).
MAX_CALLBACK_BODY: Final = 64 * 1024
#: What an inbound webhook is answered with: Twilio reads an empty TwiML document as "send nothing back".
EMPTY_TWIML: Final = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def callback_url(*, scheme: str, host: str, path: str, query: str = "", public_base_url: str | None = None) -> str:
    """The URL a provider called: ``public_base_url`` (scheme, host, port and path prefix) when configured,
    else the request's own scheme and host, followed by the path and query."""
    if public_base_url:
        base = urlsplit(public_base_url)
        prefix = base.path.rstrip("/")
        url = f"{base.scheme}://{base.netloc}{prefix}{path}"
    else:
        url = f"{scheme}://{host}{path}"
    return f"{url}?{query}" if query else url


def status_callback_app(
    service: SMSService, provider: str, *, public_base_url: str | None = None
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application applying the status callbacks of the provider named ``provider``.

    ``public_base_url`` defaults to the service's configured ``public_base_url``. When there is one, it is the
    public URL of the application's mount point: the URL checked is it followed by ``PATH_INFO`` (``SCRIPT_NAME``,
    the mount point as the server sees it, is replaced by it); without one, the request's own scheme, host,
    ``SCRIPT_NAME`` and ``PATH_INFO``.
    """

    def handle(request: WebhookRequest) -> None:
        params = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        flat: dict[str, str | list[str]] = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
        service.handle_status_callback(provider, request.url, flat, dict(request.headers))

    return _webhook(service, provider, "status callback", handle, public_base_url, answer=b"")


def inbound_app(
    service: SMSService, provider: str, *, public_base_url: str | None = None
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application receiving the SMS the provider named ``provider`` pushes
    (:meth:`~smscore.service.SMSService.handle_inbound`), with the URL rebuilt as :func:`status_callback_app`
    does. It answers as the status-callback application does (200 also for a retried webhook, and with an empty
    TwiML document, which Twilio reads as "no answer in the webhook's own reply").
    """

    def handle(request: WebhookRequest) -> None:
        service.handle_inbound(provider, request)

    return _webhook(service, provider, "inbound SMS", handle, public_base_url, answer=EMPTY_TWIML)


def webhook_app(service: SMSService) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """One WSGI application for every provider of ``service``: ``POST /status/<name>/`` for those that push status
    reports (:class:`~smscore.ports.StatusCallbackReceiver`), ``POST /inbound/<name>/`` for those that push the
    SMS they receive (:class:`~smscore.ports.InboundReceiver`); 404 for any other path. Mount it where
    ``public_base_url`` points."""
    routes: dict[tuple[str, str], Callable[[dict[str, Any], StartResponse], Iterable[bytes]]] = {}
    for name, provider in service.providers.items():
        if isinstance(provider, StatusCallbackReceiver):
            routes[("status", name)] = status_callback_app(service, name)
        if isinstance(provider, InboundReceiver):
            routes[("inbound", name)] = inbound_app(service, name)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # "/status/<name>/" splits into "", "status", name, "".
        parts = str(environ.get("PATH_INFO", "")).split("/")
        route = routes.get((parts[1], parts[2])) if len(parts) == 4 and parts[0] == parts[3] == "" else None
        if route is None:
            return _answer(start_response, "404 Not Found", b"not found\n")
        return route(environ, start_response)

    return app


def _webhook(
    service: SMSService,
    provider: str,
    what: str,
    handle: Callable[[WebhookRequest], object],
    public_base_url: str | None,
    *,
    answer: bytes,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application that reads a webhook request within bounds and hands it to ``handle``."""
    base = public_base_url if public_base_url is not None else service.config.public_base_url

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, "405 Method Not Allowed", b"POST only\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(start_response, "400 Bad Request", b"bad Content-Length\n")
        if length < 0:
            return _answer(start_response, "400 Bad Request", b"bad Content-Length\n")
        if length > MAX_CALLBACK_BODY:
            return _answer(start_response, "413 Content Too Large", b"body too large\n")
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _headers(environ)
        # A public base URL stands for where this application is mounted (SCRIPT_NAME): only the path below the
        # mount point follows it, as in the <public_base_url>/status/<name>/ providers are given.
        mount = "" if base else environ.get("SCRIPT_NAME", "")
        url = callback_url(
            scheme=environ.get("wsgi.url_scheme", "http"),
            host=headers.get("host") or environ.get("SERVER_NAME", ""),
            path=mount + environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            public_base_url=base,
        )
        try:
            handle(WebhookRequest(url, body, headers))
        except UnicodeDecodeError:
            return _answer(start_response, "400 Bad Request", b"body is not UTF-8 form data\n")
        except InvalidSignatureError:
            log.warning("%s for provider %r with a bad signature refused", what, provider)
            return _answer(start_response, "403 Forbidden", b"invalid signature\n")
        except CallbackError as exc:
            return _answer(start_response, "400 Bad Request", f"{exc}\n".encode())
        content_type = "text/xml" if answer else "text/plain; charset=utf-8"
        return _answer(start_response, "200 OK", answer, content_type)

    return app


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _answer(
    start_response: StartResponse, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
