"""What the WSGI and ASGI webhook applications decide alike: the limits, the routes, the URL a signature covers,
which service method a request goes to, and every answer; they differ only in how they read and write HTTP.

An application finds the :class:`Endpoint` of its path (:func:`router`), asks :func:`refusal` whether the request
is refused before its body is read, reads at most :data:`MAX_CALLBACK_BODY` bytes
(else :data:`TOO_LARGE`), builds the :class:`~smscore.inbound.WebhookRequest` with :meth:`Endpoint.request`,
hands it to the service with :meth:`Endpoint.deliver` (awaiting what it returns for
:class:`~smscore.service.AsyncSMSService`), and answers :attr:`Endpoint.ok`, or :meth:`Endpoint.refused` for one
of the :data:`REFUSED` errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs

from smscore.errors import CallbackError, InvalidSignatureError
from smscore.inbound import WebhookRequest
from smscore.ports import InboundReceiver, SMSProvider, StatusCallbackReceiver

__all__ = [
    "BAD_LENGTH",
    "EMPTY_TWIML",
    "MAX_CALLBACK_BODY",
    "NOT_FOUND",
    "NOT_POST",
    "REFUSED",
    "TOO_LARGE",
    "Answer",
    "Endpoint",
    "Kind",
    "Receiver",
    "callback_url",
    "refusal",
    "request_host",
    "router",
]

log = logging.getLogger("smscore.webhooks")

#: Largest request body accepted, in bytes (a Twilio status callback is well under 2 KiB).
MAX_CALLBACK_BODY: Final = 64 * 1024
#: What an inbound webhook is answered with: Twilio reads an empty TwiML document as "send nothing back".
EMPTY_TWIML: Final = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'

#: The two webhooks of a provider: its status reports and the SMS it receives, at ``/<kind>/<name>/``.
Kind = Literal["status", "inbound"]
_WHAT: Final[Mapping[Kind, str]] = {"status": "status callback", "inbound": "inbound SMS"}

_R_co = TypeVar("_R_co", covariant=True)


@attrs.frozen
class Answer:
    """An HTTP answer: ``status`` as a status line (``"403 Forbidden"``), ``body``, ``content_type`` and any
    ``extra`` headers."""

    status: str
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def code(self) -> int:
        """The status code (``403``)."""
        return int(self.status[:3])

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header of the answer, ``Content-Length`` included."""
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))), *self.extra]


NOT_POST: Final = Answer("405 Method Not Allowed", b"POST only\n", extra=(("Allow", "POST"),))
NOT_FOUND: Final = Answer("404 Not Found", b"not found\n")
BAD_LENGTH: Final = Answer("400 Bad Request", b"bad Content-Length\n")
TOO_LARGE: Final = Answer("413 Content Too Large", b"body too large\n")
_NOT_UTF8: Final = Answer("400 Bad Request", b"body is not UTF-8 form data\n")
_BAD_SIGNATURE: Final = Answer("403 Forbidden", b"invalid signature\n")

#: The errors :meth:`Endpoint.deliver` (or what it returns, awaited) raises for a request it refuses; any other
#: error is the application's own failure, left to the server (a 500).
REFUSED: Final = (UnicodeDecodeError, CallbackError)


class Receiver(Protocol[_R_co]):
    """What receives webhooks: :class:`~smscore.service.SMSService` (whose methods return their results) or
    :class:`~smscore.service.AsyncSMSService` (whose methods return coroutines)."""

    def handle_status_callback(
        self, provider: str, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str], /
    ) -> _R_co: ...

    def handle_inbound(self, provider: str, request: WebhookRequest, /) -> _R_co: ...


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


def request_host(scheme: str, host_header: str | None, server_name: str, server_port: int | str | None) -> str:
    """The host (and port) the request was sent to: its ``Host`` header, else the server's name, with its port
    unless that is the scheme's default (PEP 3333's URL reconstruction)."""
    if host_header:
        return host_header
    default = {"http": "80", "https": "443"}.get(scheme)
    return server_name if server_port is None or str(server_port) == default else f"{server_name}:{server_port}"


def refusal(method: str, content_length: str | None) -> Answer | None:
    """The answer to a request refused before its body is read (a method other than POST, a ``Content-Length``
    that is not a number or is over :data:`MAX_CALLBACK_BODY`), or None when the body may be read."""
    if method != "POST":
        return NOT_POST
    try:
        length = int(content_length or 0)
    except ValueError:
        return BAD_LENGTH
    if length < 0:
        return BAD_LENGTH
    return TOO_LARGE if length > MAX_CALLBACK_BODY else None


@attrs.frozen
class Endpoint:
    """One webhook: the ``kind`` of request the provider named ``provider`` pushes, and the public base URL its
    signatures cover (None: the URL the request arrived at)."""

    kind: Kind
    provider: str
    public_base_url: str | None

    @classmethod
    def of(cls, kind: Kind, provider: str, public_base_url: str | None, configured: str | None) -> Endpoint:
        """The endpoint of an application built for one provider: ``public_base_url`` when given, else the
        ``configured`` one."""
        return cls(kind, provider, public_base_url if public_base_url is not None else configured)

    def request(
        self, *, scheme: str, host: str, mount: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookRequest:
        """The request as the provider sent it. ``mount`` is where the application is mounted as the server sees
        it (``SCRIPT_NAME``, ``root_path``) and ``path`` the rest; a public base URL stands for the mount point,
        so only ``path`` follows it, as in the ``<public_base_url>/status/<name>/`` providers are given."""
        url = callback_url(
            scheme=scheme,
            host=host,
            path=path if self.public_base_url else mount + path,
            query=query,
            public_base_url=self.public_base_url,
        )
        return WebhookRequest(url, body, headers)

    def deliver(self, service: Receiver[_R_co], request: WebhookRequest) -> _R_co:
        """Hand ``request`` to ``service``: what its method returns (a coroutine, for an asyncio service). Raises
        one of :data:`REFUSED` for a request the service refuses."""
        if self.kind == "inbound":
            return service.handle_inbound(self.provider, request)
        params = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        flat: dict[str, str | Sequence[str]] = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
        return service.handle_status_callback(self.provider, request.url, flat, request.headers)

    @property
    def ok(self) -> Answer:
        """The answer to a request the service took: an empty 200, and empty TwiML for an inbound SMS (Twilio
        reads it as "no reply in the webhook's answer")."""
        if self.kind == "inbound":
            return Answer("200 OK", EMPTY_TWIML, "text/xml")
        return Answer("200 OK", b"")

    def refused(self, error: Exception) -> Answer:
        """The answer to a request ``deliver`` refused with ``error``, one of :data:`REFUSED`: 403 for a signature
        that does not verify, else 400."""
        if isinstance(error, UnicodeDecodeError):
            return _NOT_UTF8
        if isinstance(error, InvalidSignatureError):
            # The signature and the token stay out of the log.
            log.warning("%s for provider %r with a bad signature refused", _WHAT[self.kind], self.provider)
            return _BAD_SIGNATURE
        return Answer("400 Bad Request", f"{error}\n".encode())


def router(providers: Mapping[str, SMSProvider], public_base_url: str | None) -> Callable[[str], Endpoint | None]:
    """The endpoint at a path below the application's mount point, or None: ``/status/<name>/`` for each provider
    that takes status callbacks (:class:`~smscore.ports.StatusCallbackReceiver`), ``/inbound/<name>/`` for each
    that pushes the SMS it receives (:class:`~smscore.ports.InboundReceiver`)."""
    routes: dict[tuple[str, str], Endpoint] = {}
    for name, provider in providers.items():
        if isinstance(provider, StatusCallbackReceiver):
            routes[("status", name)] = Endpoint("status", name, public_base_url)
        if isinstance(provider, InboundReceiver):
            routes[("inbound", name)] = Endpoint("inbound", name, public_base_url)

    def route(path: str) -> Endpoint | None:
        # "/status/<name>/" splits into "", "status", name, "".
        parts = path.split("/")
        return routes.get((parts[1], parts[2])) if len(parts) == 4 and parts[0] == parts[3] == "" else None

    return route
