"""A loopback fake of Twilio's 2010-04-01 Messages API, for tests that drive the real ``twilio`` client.

:class:`FakeTwilio` is a real HTTP server on 127.0.0.1 that implements

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (create a message; form-encoded body),
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` (fetch one), and
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages.json`` (list: newest ``date_created`` first, filtered by
  ``To`` and ``From``, paged by ``PageSize``, ``Page`` and ``PageToken`` in Twilio's envelope; the ``DateSent``
  filters are not implemented and answered with an error, so a test can never pass by a filter ignored),

with Twilio's JSON shapes (Message resource, list envelope, and ``{"code", "message", "more_info", "status"}``
errors), checking HTTP Basic authentication. Every request is recorded (method, path, query, headers, form
fields, the response status and JSON), so tests assert what went over the wire. The behaviour of the next create
requests is set with :meth:`FakeTwilio.accept`, :meth:`reject`, :meth:`fail`, :meth:`hang` and :meth:`drop`
(``hang``, ``drop`` and ``fail(created=True)`` create the message and lose the answer, as a read timeout, a
dropped connection or a gateway's 502/504 would); the status later fetches and lists return is set with
:meth:`set_status`; :meth:`add_message` puts a message there as if sent earlier or by someone else (an inbound
one, say). ``date_created`` is read from :attr:`FakeTwilio.clock` (the wall clock unless a test sets it).

The real client reaches it through :class:`LoopbackDeadlineHttpClient` (the HTTP client the backend builds,
:class:`providers._twilio_http.DeadlineHttpClient`; :class:`LoopbackAsyncDeadlineHttpClient` for asyncio) or :class:`LoopbackHttpClient` (the library's own
``TwilioHttpClient``), which send ``https://api.twilio.com/...`` requests to a loopback base URL instead.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import attrs
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from providers._twilio_http import AsyncDeadlineHttpClient, DeadlineHttpClient

TWILIO_BASE_URL = "https://api.twilio.com"
_CREATE = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json")
_FETCH = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json")
_LIST_FILTERS = {"To": "to", "From": "from"}
_PAGING = frozenset({"PageSize", "Page", "PageToken"})


@attrs.define
class RecordedRequest:
    """One HTTP request the fake received and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    raw_body: bytes
    response_status: int | None = None
    response_json: Any = None
    query: dict[str, list[str]] = attrs.field(factory=dict)

    def field(self, name: str) -> str | None:
        """The single value of form field ``name``, or None."""
        values = self.form.get(name)
        return values[0] if values else None


class LoopbackDeadlineHttpClient(DeadlineHttpClient):
    """The backend's own HTTP client with Twilio's base URL replaced by a loopback server's."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        if url.startswith(TWILIO_BASE_URL):
            url = self.base_url + url[len(TWILIO_BASE_URL) :]
        return super().request(method, url, *args, **kwargs)


class LoopbackAsyncDeadlineHttpClient(AsyncDeadlineHttpClient):
    """The backend's own asyncio HTTP client with Twilio's base URL replaced by a loopback server's."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        return await super().request(method, url.replace(TWILIO_BASE_URL, self.base_url, 1), *args, **kwargs)


@attrs.define
class _Behaviour:
    kind: str = "accept"
    http_status: int = 201
    code: int | None = None
    message: str = ""
    initial_status: str | None = None
    price: str | None = None
    created: bool = False


class LoopbackHttpClient(TwilioHttpClient):
    """twilio's own ``TwilioHttpClient`` with Twilio's base URL replaced by a loopback fake's."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> Response:
        if url.startswith(TWILIO_BASE_URL):
            url = self.base_url + url[len(TWILIO_BASE_URL) :]
        return super().request(method, url, *args, **kwargs)

    def close(self) -> None:
        """Close the pooled connections."""
        if self.session is not None:
            self.session.close()


class FakeTwilio:
    """A loopback Twilio Messages API (see the module docstring). Use as a context manager or call close()."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.account_sid = account_sid
        #: What ``date_created`` and ``date_updated`` of new messages say (timezone-aware).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._credentials = {(account_sid, auth_token)}
        if api_key and api_secret:
            self._credentials.add((api_key, api_secret))
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self._behaviour = _Behaviour()
        self._fetch_failure: tuple[int, int, int | None, str] | None = None
        self._list_failure: tuple[int, int, int | None, str] | None = None
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._sids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Small writes with Nagle's algorithm on stall ~40 ms against delayed ACKs on loopback.
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    # -- behaviour of the next create requests --------------------------------------------------------------

    def accept(self, *, status: str | None = None, price: str | None = None) -> None:
        """Create messages: status ``queued`` (``accepted`` with only a Messaging Service) unless given."""
        self._behaviour = _Behaviour(initial_status=status, price=price)

    def reject(self, http_status: int = 400, code: int = 21211, message: str = "") -> None:
        """Refuse create requests with a Twilio error answer."""
        self._behaviour = _Behaviour("error", http_status, code, message or f"Error {code}")

    def fail(
        self,
        http_status: int = 503,
        code: int | None = 20503,
        message: str = "Service Unavailable",
        *,
        created: bool = False,
    ) -> None:
        """Answer create requests with an error (5xx, 429): before creating anything, or, with ``created``, after
        creating the message (a gateway that gave up, HTTP 502/504, while Twilio went on)."""
        self._behaviour = _Behaviour("error", http_status, code, message, created=created)

    def hang(self) -> None:
        """Create the message, then never answer (until the fake closes)."""
        self._behaviour = _Behaviour("hang")

    def drop(self) -> None:
        """Create the message, then close the connection without an answer."""
        self._behaviour = _Behaviour("drop")

    def fail_fetches(self, http_status: int = 503, code: int | None = 20503, *, after: int = 0) -> None:
        """Answer fetches with an error once ``after`` more fetches have succeeded."""
        self._fetch_failure = (after, http_status, code, "Service Unavailable")

    def fail_lists(self, http_status: int = 503, code: int | None = 20503, *, after: int = 0) -> None:
        """Answer list requests with an error once ``after`` more list requests have succeeded."""
        self._list_failure = (after, http_status, code, "Service Unavailable")

    def add_message(
        self,
        to: str,
        body: str,
        *,
        from_: str | None = None,
        direction: str = "outbound-api",
        status: str = "delivered",
        date_created: datetime | None = None,
        messaging_service_sid: str | None = None,
    ) -> str:
        """Put a message at Twilio as if it had been created earlier, elsewhere or inbound; return its sid.

        ``date_created`` defaults to :attr:`clock`. An inbound message (``direction="inbound"``) is *from* ``from_``
        *to* ``to`` as Twilio stores it.
        """
        sid = self._next_sid()
        resource = self._resource_fields(
            sid, to, body, from_, messaging_service_sid, status, None, date_created or self.clock()
        )
        resource["direction"] = direction
        with self._lock:
            self.messages[sid] = resource
        return sid

    def set_status(self, sid: str, status: str, **fields: Any) -> None:
        """What a fetch of ``sid`` returns from now on (``error_code``, ``price``... may be given too)."""
        with self._lock:
            self.messages[sid].update(status=status, **fields)

    def forget(self, sid: str) -> None:
        """Delete the message, as Twilio's DELETE does: fetches answer 404."""
        with self._lock:
            del self.messages[sid]

    # -- reading back ---------------------------------------------------------------------------------------

    @property
    def creates(self) -> list[RecordedRequest]:
        """Every create request received, in order."""
        return [r for r in self.requests if r.method == "POST"]

    @property
    def lists(self) -> list[RecordedRequest]:
        """Every list request received, in order."""
        return [r for r in self.requests if r.method == "GET" and _CREATE.fullmatch(r.path)]

    @property
    def fetches(self) -> list[RecordedRequest]:
        """Every fetch request received, in order."""
        return [r for r in self.requests if r.method == "GET" and _FETCH.fullmatch(r.path)]

    def http_client(self, *, timeout: float = 2.0) -> LoopbackDeadlineHttpClient:
        """The backend's HTTP client (``twilio.rest.Client(..., http_client=...)``), talking to this fake."""
        return LoopbackDeadlineHttpClient(self.base_url, timeout=timeout)

    def async_http_client(self, *, timeout: float = 2.0) -> Callable[[], LoopbackAsyncDeadlineHttpClient]:
        """What makes the backend's asyncio HTTP client (the ``async_http_client`` option), talking to this fake."""
        return functools.partial(LoopbackAsyncDeadlineHttpClient, self.base_url, timeout=timeout)

    def requests_http_client(self, *, timeout: float = 2.0) -> LoopbackHttpClient:
        """twilio's own ``TwilioHttpClient`` (``requests``), talking to this fake."""
        return LoopbackHttpClient(self.base_url, timeout=timeout)

    def close(self) -> None:
        """Release hanging requests and stop the server."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the server side ------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path, _, query = handler.path.partition("?")
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True) if method == "POST" else {}
        recorded = RecordedRequest(
            method, path, dict(handler.headers.items()), form, body, query=parse_qs(query, keep_blank_values=True)
        )
        with self._lock:
            self.requests.append(recorded)
        if not self._authenticated(handler.headers.get("Authorization")):
            self._error(handler, recorded, 401, 20003, "Authenticate")
            return
        create = _CREATE.fullmatch(path) if method == "POST" else None
        fetch = _FETCH.fullmatch(path) if method == "GET" else None
        listing = _CREATE.fullmatch(path) if method == "GET" else None
        match = create or fetch or listing
        if match is None:
            self._error(handler, recorded, 404, 20404, f"The requested resource {path} was not found")
            return
        if match["account"] != self.account_sid:
            self._error(handler, recorded, 403, 20003, "Authenticate")
            return
        if fetch is not None:
            if self._fetch_failure is not None:
                left, status, code, message = self._fetch_failure
                if left <= 0:
                    self._error(handler, recorded, status, code, message)
                    return
                self._fetch_failure = (left - 1, status, code, message)
            with self._lock:
                resource = dict(self.messages.get(fetch["sid"], {}))
            if not resource:
                self._error(handler, recorded, 404, 20404, f"The requested resource {path} was not found")
                return
            self._json(handler, recorded, 200, resource)
            return
        if listing is not None:
            self._list(handler, recorded)
            return
        self._create(handler, recorded)

    def _list(self, handler: BaseHTTPRequestHandler, recorded: RecordedRequest) -> None:
        if self._list_failure is not None:
            left, status, code, message = self._list_failure
            if left <= 0:
                self._error(handler, recorded, status, code, message)
                return
            self._list_failure = (left - 1, status, code, message)
        query = {name: values[-1] for name, values in recorded.query.items()}
        unsupported = sorted(set(query) - set(_LIST_FILTERS) - _PAGING)
        if unsupported:
            self._error(handler, recorded, 400, 20001, f"FakeTwilio does not implement {', '.join(unsupported)}")
            return
        try:
            page_size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
        except ValueError:
            self._error(handler, recorded, 400, 20001, "Invalid paging parameter")
            return
        if not 1 <= page_size <= 1000 or page < 0:
            self._error(handler, recorded, 400, 20001, "Invalid paging parameter")
            return
        with self._lock:
            # Twilio lists the newest first; the later of two messages created in the same second comes first.
            ordered = [dict(resource) for resource in reversed(self.messages.values())]
        ordered.sort(key=lambda resource: parsedate_to_datetime(resource["date_created"]), reverse=True)
        filters = {k: v for k, v in query.items() if k in _LIST_FILTERS}
        matching = [r for r in ordered if all(r.get(_LIST_FILTERS[k]) == v for k, v in filters.items())]
        start = page * page_size
        items = matching[start : start + page_size]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

        def uri(number: int, token: str | None = None) -> str:
            params = {**filters, "PageSize": str(page_size), "Page": str(number)}
            if token:
                params["PageToken"] = token
            return f"{base}?{urlencode(params)}"

        more = start + page_size < len(matching)
        payload = {
            "first_page_uri": uri(0),
            "end": start + max(len(items) - 1, 0),
            "previous_page_uri": uri(page - 1, "PB" + items[0]["sid"]) if page > 0 and items else None,
            "messages": items,
            "uri": uri(page, query.get("PageToken")),
            "page_size": page_size,
            "start": start,
            "next_page_uri": uri(page + 1, "PA" + items[-1]["sid"]) if more and items else None,
            "page": page,
        }
        self._json(handler, recorded, 200, payload)

    def _create(self, handler: BaseHTTPRequestHandler, recorded: RecordedRequest) -> None:
        behaviour = self._behaviour
        if behaviour.kind == "error" and not behaviour.created:
            self._error(handler, recorded, behaviour.http_status, behaviour.code, behaviour.message)
            return
        to, body = recorded.field("To"), recorded.field("Body")
        sender, service = recorded.field("From"), recorded.field("MessagingServiceSid")
        if not to:
            self._error(handler, recorded, 400, 21604, "A 'To' phone number is required.")
            return
        if not sender and not service:
            self._error(handler, recorded, 400, 21603, "A 'From' phone number is required.")
            return
        if not body:
            self._error(handler, recorded, 400, 21602, "Message body is required.")
            return
        resource = self._resource(to, body, sender, service, behaviour)
        with self._lock:
            self.messages[resource["sid"]] = resource
        if behaviour.kind == "hang":
            self._release.wait(timeout=10)
            handler.close_connection = True
            return
        if behaviour.kind == "drop":
            handler.close_connection = True
            return
        if behaviour.kind == "error":
            self._error(handler, recorded, behaviour.http_status, behaviour.code, behaviour.message)
            return
        self._json(handler, recorded, 201, resource)

    def _next_sid(self) -> str:
        return "SM" + format(next(self._sids), "032x")

    def _resource(
        self, to: str, body: str, sender: str | None, service: str | None, behaviour: _Behaviour
    ) -> dict[str, Any]:
        status = behaviour.initial_status or ("accepted" if service and not sender else "queued")
        return self._resource_fields(self._next_sid(), to, body, sender, service, status, behaviour.price, self.clock())

    def _resource_fields(
        self,
        sid: str,
        to: str,
        body: str,
        sender: str | None,
        service: str | None,
        status: str,
        price: str | None,
        created: datetime,
    ) -> dict[str, Any]:
        stamp = format_datetime(created.astimezone(UTC))
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": price,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _authenticated(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return any(
            secrets.compare_digest(user, u) and secrets.compare_digest(password, p) for u, p in self._credentials
        )

    def _error(
        self, handler: BaseHTTPRequestHandler, recorded: RecordedRequest, status: int, code: int | None, message: str
    ) -> None:
        payload: dict[str, Any] = {"message": message, "status": status}
        if code is not None:
            payload["code"] = code
            payload["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
        self._json(handler, recorded, status, payload)

    @staticmethod
    def _json(
        handler: BaseHTTPRequestHandler, recorded: RecordedRequest, status: int, payload: Mapping[str, Any]
    ) -> None:
        data = json.dumps(payload).encode()
        recorded.response_status = status
        recorded.response_json = payload
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting to it is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
