"""The WSGI webhook applications: what is particular to WSGI (the environ, ``start_response``) around the
decisions of :mod:`smscore.webhooks.decisions`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from smscore.service import SMSService
from smscore.webhooks.decisions import (
    NOT_FOUND,
    REFUSED,
    Answer,
    Endpoint,
    refusal,
    request_host,
    router,
)

__all__ = ["StartResponse", "WSGIApp", "inbound_app", "status_callback_app", "webhook_app"]

#: WSGI's ``start_response(status, headers)``.
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
#: A WSGI application.
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def status_callback_app(service: SMSService, provider: str, *, public_base_url: str | None = None) -> WSGIApp:
    """A WSGI application applying the status callbacks of the provider named ``provider``.

    ``public_base_url`` defaults to the service's configured ``public_base_url``. When there is one, it is the
    public URL of the application's mount point: the URL checked is it followed by ``PATH_INFO`` (``SCRIPT_NAME``,
    the mount point as the server sees it, is replaced by it); without one, the request's own scheme, host,
    ``SCRIPT_NAME`` and ``PATH_INFO``.
    """
    endpoint = Endpoint.of("status", provider, public_base_url, service.config.public_base_url)
    return _app(service, lambda path: endpoint)


def inbound_app(service: SMSService, provider: str, *, public_base_url: str | None = None) -> WSGIApp:
    """A WSGI application receiving the SMS the provider named ``provider`` pushes
    (:meth:`~smscore.service.SMSService.handle_inbound`), with the URL rebuilt as :func:`status_callback_app`
    does. It answers as the status-callback application does (200 also for a retried webhook, and with an empty
    TwiML document, which Twilio reads as "no answer in the webhook's own reply").
    """
    endpoint = Endpoint.of("inbound", provider, public_base_url, service.config.public_base_url)
    return _app(service, lambda path: endpoint)


def webhook_app(service: SMSService) -> WSGIApp:
    """One WSGI application for every provider of ``service``: ``POST /status/<name>/`` for those that push status
    reports (:class:`~smscore.ports.StatusCallbackReceiver`), ``POST /inbound/<name>/`` for those that push the
    SMS they receive (:class:`~smscore.ports.InboundReceiver`); 404 for any other path. Mount it where
    ``public_base_url`` points."""
    return _app(service, router(service.providers, service.config.public_base_url))


def _app(service: SMSService, endpoint_of: Callable[[str], Endpoint | None]) -> WSGIApp:
    """A WSGI application serving the endpoint ``endpoint_of`` its ``PATH_INFO`` (404 for None)."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        endpoint = endpoint_of(path)
        if endpoint is None:
            return _answer(start_response, NOT_FOUND)
        refused = refusal(str(environ.get("REQUEST_METHOD", "")), environ.get("CONTENT_LENGTH"))
        if refused is not None:
            return _answer(start_response, refused)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _headers(environ)
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        request = endpoint.request(
            scheme=scheme,
            host=request_host(scheme, headers.get("host"), environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT")),
            mount=environ.get("SCRIPT_NAME", ""),
            path=path,
            query=environ.get("QUERY_STRING", ""),
            body=body,
            headers=headers,
        )
        try:
            endpoint.deliver(service, request)
        except REFUSED as error:
            return _answer(start_response, endpoint.refused(error))
        return _answer(start_response, endpoint.ok)

    return app


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _answer(start_response: StartResponse, answer: Answer) -> list[bytes]:
    start_response(answer.status, answer.headers)
    return [answer.body]
