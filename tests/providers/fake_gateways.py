"""Loopback fake gateways for the XML SMS providers: real HTTP/1.1 servers on 127.0.0.1, one thread each.

:class:`ATSGateway` and :class:`SMSOperatorGateway` speak their protocol the way the real services are
documented to: they check the credentials, remember every accepted message under our id, answer a code per
message, refuse an id used twice (ATS 310) and answer delivery checks from what they remember. Tests (and the
benchmark) drive them and read back what reached them:

>>> with ATSGateway(username="u", password="p") as gateway:       # doctest: +SKIP
...     gateway.script(Reply(status=503))                          # the next request: HTTP 503
...     gateway.script(Reply(code=341))                            # the one after: every message "too long"
...     gateway.default = Reply(delay=1.0)                         # all later ones: processed, answered late
...     backend = ATSSMSBackend.from_options({"url": gateway.url, ...})
...     gateway.requests[0].body                                   # what went over the wire, byte for byte

A :class:`Reply` with ``body=None`` gets the protocol's answer (``code`` forces every message's code); with a
``body`` the bytes are sent as they are and nothing is processed. ``delay`` holds the answer back (the request is
processed first, so a client that times out leaves a message the gateway did take), ``close`` drops the connection
without answering, ``truncate`` sends only that many bytes of the body and then drops the connection.

The servers keep connections alive (HTTP/1.1), disable Nagle's algorithm, count the TCP connections they accept
(:attr:`FakeGateway.connections`) and shut every connection down on :meth:`FakeGateway.close`, so no thread outlives
a test.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from xml.sax.saxutils import escape, quoteattr

import attrs

__all__ = ["ATSGateway", "FakeGateway", "ReceivedSMS", "RecordedRequest", "Reply", "SMSOperatorGateway", "free_port"]

#: ATS codes under which a message counts as accepted (and is remembered).
ATS_ACCEPTED = frozenset({0, 21, 22, 23})
#: SMS-operator send statuses under which a message counts as accepted.
SMS_OPERATOR_ACCEPTED = frozenset({0, 11, 12, 13, 14})


@attrs.frozen
class Reply:
    """How the gateway answers one request (see the module docstring)."""

    status: int = 200
    body: bytes | None = None
    code: int | None = None
    delay: float = 0.0
    close: bool = False
    truncate: int | None = None
    content_type: str = "text/xml; charset=utf-8"


@attrs.frozen
class RecordedRequest:
    """One request as it reached the gateway: method, path, headers, body bytes, and which TCP connection
    (a counter, starting at 1) carried it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int


@attrs.define
class ReceivedSMS:
    """A message as the gateway read it from a send request, and the delivery state it reports for it."""

    uniq: str
    recipient: str
    text: str
    sender: str | None
    attributes: dict[str, str]
    code: int
    state: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (after their sockets are shut down), so none outlives the test.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is expected (timeouts, closed pools); stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    connection_number = 0

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.request)
            self.server.gateway.connections += 1
            self.connection_number = self.server.gateway.connections

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.request)
        with contextlib.suppress(OSError):
            super().finish()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
            connection=self.connection_number,
        )
        self.server.gateway._serve(self, request)

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeGateway:
    """A scriptable HTTP/1.1 server on 127.0.0.1 that records every request. Subclasses speak a protocol by
    overriding :meth:`answer`; this base answers ``200 <ok/>`` to everything."""

    def __init__(self, *, keep_requests: bool = True) -> None:
        self.requests: list[RecordedRequest] = []
        self.keep_requests = keep_requests
        self.request_count = 0
        self.connections = 0
        #: The reply used when the script is empty.
        self.default = Reply()
        self._script: collections.deque[Reply] = collections.deque()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gateway", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """Where to send requests."""
        return f"http://127.0.0.1:{self.port}/gateway"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, one each, in order; then :attr:`default` again."""
        with self._lock:
            self._script.extend(replies)

    def answer(self, request: RecordedRequest, reply: Reply) -> bytes:
        """The protocol's answer to ``request`` (called under the gateway's lock). Override in subclasses."""
        return b"<ok/>"

    def _serve(self, handler: _Handler, request: RecordedRequest) -> None:
        with self._lock:
            self.request_count += 1
            if self.keep_requests:
                self.requests.append(request)
            reply = self._script.popleft() if self._script else self.default
            if reply.body is not None:
                body = reply.body
            elif reply.status == 200:
                body = self.answer(request, reply)
            else:
                body = f"HTTP {reply.status}".encode()
        if reply.delay and self._stopping.wait(reply.delay):
            handler.close_connection = True
            return
        if reply.close:
            handler.close_connection = True
            return
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if reply.truncate is not None:
                handler.wfile.write(body[: reply.truncate])
                handler.wfile.flush()
                handler.close_connection = True
                return
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def close(self) -> None:
        """Stop serving, drop every connection and wait for every handler thread to end."""
        self._stopping.set()
        self._server.shutdown()
        with self._server.sockets_lock:
            open_sockets = list(self._server.open_sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _text(element: ET.Element | None) -> str:
    return "".join(element.itertext()) if element is not None else ""


class ATSGateway(FakeGateway):
    """The ATS XML gateway: ``<sms>`` and ``<dlr>`` requests, ``<status><code uniq=..>N</code></status>`` answers.

    Accepted messages (code 0 unless told otherwise) are remembered with delivery state :attr:`delivery_code`
    (23, delivered); :meth:`set_state` changes it. ``codes`` forces a code per recipient.
    """

    def __init__(self, *, username: str = "user", password: str = "secret", **kwargs: Any) -> None:
        self.username = username
        self.password = password
        self.delivery_code = 23
        self.codes: dict[str, int] = {}
        #: Every ``<sms>`` that reached the gateway, in order (rejected ones too).
        self.received: list[ReceivedSMS] = []
        #: Accepted messages by uniq.
        self.messages: dict[str, ReceivedSMS] = {}
        super().__init__(**kwargs)

    def set_state(self, uniq: str, code: int) -> None:
        """What a delivery check will answer for ``uniq`` from now on."""
        with self._lock:
            self.messages[uniq].state = code

    @staticmethod
    def document(codes: Iterable[tuple[str | None, int | str]]) -> bytes:
        """An ATS answer: ``(uniq or None, code)`` pairs."""
        lines = ['<?xml version="1.0" encoding="UTF-8" ?>', "<status>"]
        for uniq, code in codes:
            attribute = f" uniq={quoteattr(uniq)}" if uniq is not None else ""
            lines.append(f"<code{attribute}>{code}</code>")
        lines.append("</status>")
        return "\n".join(lines).encode()

    def answer(self, request: RecordedRequest, reply: Reply) -> bytes:
        if request.method != "POST":
            return self.document([(None, 703)])
        if not request.body.strip():
            return self.document([(None, 701)])
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            return self.document([(None, 705)])
        if root.tag != "messages":
            return self.document([(None, 705)])
        if _text(root.find("auth/name")) != self.username or _text(root.find("auth/password")) != self.password:
            return self.document([(None, 100)])
        codes: list[tuple[str | None, int]] = []
        in_batch: set[str] = set()
        for sms in root.findall("sms"):
            uniq = sms.get("uniq", "")
            recipient = sms.get("recipient", "")
            if reply.code is not None:
                code = reply.code
            elif uniq in in_batch:
                code = 300
            elif uniq in self.messages:
                code = 310
            else:
                code = self.codes.get(recipient, 0)
            in_batch.add(uniq)
            received = ReceivedSMS(
                uniq=uniq,
                recipient=recipient,
                text=_text(sms.find("body")),
                sender=sms.get("sender"),
                attributes=dict(sms.attrib),
                code=code,
                state=self.delivery_code,
            )
            self.received.append(received)
            if code in ATS_ACCEPTED and uniq not in self.messages:
                self.messages[uniq] = received
            codes.append((uniq, code))
        for dlr in root.findall("dlr"):
            uniq = dlr.get("uniq") or _text(dlr)
            known = self.messages.get(uniq)
            code = reply.code if reply.code is not None else (known.state if known is not None else 20)
            codes.append((uniq, code))
        return self.document(codes)


class SMSOperatorGateway(FakeGateway):
    """The SMS-operator web service: ``SMS`` and ``SMS-Status`` requests, ``DataItem`` answers.

    Accepted messages (status 0 unless told otherwise) are remembered with delivery status :attr:`delivery_code`
    (0, delivered). Wrong credentials get an answer without any ``DataItem`` (the protocol has no error code).
    """

    def __init__(self, *, username: str = "user", password: str = "secret", **kwargs: Any) -> None:
        self.username = username
        self.password = password
        self.delivery_code = 0
        self.codes: dict[str, int] = {}
        self.received: list[ReceivedSMS] = []
        self.messages: dict[str, ReceivedSMS] = {}
        super().__init__(**kwargs)

    def set_state(self, uniq: str, code: int) -> None:
        """What a status check will answer for ``uniq`` from now on."""
        with self._lock:
            self.messages[uniq].state = code

    @staticmethod
    def document(items: Iterable[tuple[str, int | str]]) -> bytes:
        """An SMS-operator answer: ``(SmsId, status)`` pairs."""
        lines = ['<?xml version="1.0" encoding="utf-8"?>', "<SmsServices>", "  <DataArray>"]
        for uniq, code in items:
            lines.append(f"    <DataItem><SmsId>{escape(uniq)}</SmsId><Status>{code}</Status></DataItem>")
        lines.extend(["  </DataArray>", "</SmsServices>"])
        return "\n".join(lines).encode()

    def answer(self, request: RecordedRequest, reply: Reply) -> bytes:
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            return self.document([])
        header = root.find("DataHeader")
        if (
            header is None
            or _text(header.find("UserName")) != self.username
            or _text(header.find("Password")) != self.password
        ):
            return self.document([])
        items: list[tuple[str, int]] = []
        if _text(header.find("DataType")) == "SMS":
            for item in root.iterfind("DataArray/DataTemplate/DataItem"):
                uniq = _text(item.find("SmsId"))
                recipient = _text(item.find("MobileTerminate"))
                code = reply.code if reply.code is not None else self.codes.get(recipient, 0)
                received = ReceivedSMS(
                    uniq=uniq,
                    recipient=recipient,
                    text=_text(item.find("Text")),
                    sender=_text(item.find("PhoneNumberMo")) or None,
                    attributes={},
                    code=code,
                    state=self.delivery_code,
                )
                self.received.append(received)
                if code in SMS_OPERATOR_ACCEPTED:
                    self.messages[uniq] = received
                items.append((uniq, code))
        else:
            for sms_id in root.iterfind("DataArray/SmsId"):
                uniq = _text(sms_id)
                known = self.messages.get(uniq)
                code = reply.code if reply.code is not None else (known.state if known is not None else 15)
                items.append((uniq, code))
        return self.document(items)
