"""A loopback fake of Twilio's 2010-04-01 Messages API, for tests that drive the real ``twilio`` client.

:class:`FakeTwilio` is a real HTTP server on 127.0.0.1 that implements

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (create a message; form-encoded body), and
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` (fetch one),

with Twilio's JSON shapes (Message resource, and ``{"code", "message", "more_info", "status"}`` errors),
checking HTTP Basic authentication. Every request is recorded (method, path, headers, form fields, the response
status and JSON), so tests assert what went over the wire. The behaviour of the next create requests is set
with :meth:`FakeTwilio.accept`, :meth:`reject`, :meth:`fail`, :meth:`hang` and :meth:`drop`; the status later
fetches return is set with :meth:`set_status`.

The real client reaches it through :class:`LoopbackHttpClient`, a ``TwilioHttpClient`` (the library's own HTTP
seam) that sends ``https://api.twilio.com/...`` requests to the fake's base URL instead.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import attrs
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

TWILIO_BASE_URL = "https://api.twilio.com"
_CREATE = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json")
_FETCH = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json")
_NOW = "Thu, 24 Aug 2023 05:01:45 +0000"


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

    def field(self, name: str) -> str | None:
        """The single value of form field ``name``, or None."""
        values = self.form.get(name)
        return values[0] if values else None


@attrs.define
class _Behaviour:
    kind: str = "accept"
    http_status: int = 201
    code: int | None = None
    message: str = ""
    initial_status: str | None = None
    price: str | None = None


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
    ) -> None:
        self.account_sid = account_sid
        self._credentials = {(account_sid, auth_token)}
        if api_key and api_secret:
            self._credentials.add((api_key, api_secret))
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self._behaviour = _Behaviour()
        self._fetch_failure: tuple[int, int, int | None, str] | None = None
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

    def fail(self, http_status: int = 503, code: int | None = 20503, message: str = "Service Unavailable") -> None:
        """Answer create requests with an error before creating anything (5xx, 429)."""
        self._behaviour = _Behaviour("error", http_status, code, message)

    def hang(self) -> None:
        """Create the message, then never answer (until the fake closes)."""
        self._behaviour = _Behaviour("hang")

    def drop(self) -> None:
        """Create the message, then close the connection without an answer."""
        self._behaviour = _Behaviour("drop")

    def fail_fetches(self, http_status: int = 503, code: int | None = 20503, *, after: int = 0) -> None:
        """Answer fetches with an error once ``after`` more fetches have succeeded."""
        self._fetch_failure = (after, http_status, code, "Service Unavailable")

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

    def http_client(self, *, timeout: float | None = 2.0) -> LoopbackHttpClient:
        """An HTTP client for ``twilio.rest.Client(..., http_client=...)`` that talks to this fake."""
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
        path = handler.path.split("?", 1)[0]
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True) if method == "POST" else {}
        recorded = RecordedRequest(method, path, dict(handler.headers.items()), form, body)
        with self._lock:
            self.requests.append(recorded)
        if not self._authenticated(handler.headers.get("Authorization")):
            self._error(handler, recorded, 401, 20003, "Authenticate")
            return
        create = _CREATE.fullmatch(path) if method == "POST" else None
        fetch = _FETCH.fullmatch(path) if method == "GET" else None
        match = create or fetch
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
        self._create(handler, recorded)

    def _create(self, handler: BaseHTTPRequestHandler, recorded: RecordedRequest) -> None:
        behaviour = self._behaviour
        if behaviour.kind == "error":
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
        self._json(handler, recorded, 201, resource)

    def _resource(
        self, to: str, body: str, sender: str | None, service: str | None, behaviour: _Behaviour
    ) -> dict[str, Any]:
        sid = "SM" + format(next(self._sids), "032x")
        status = behaviour.initial_status or ("accepted" if service and not sender else "queued")
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": _NOW,
            "date_sent": None,
            "date_updated": _NOW,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": behaviour.price,
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
