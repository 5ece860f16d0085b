"""Status callbacks: the service applies verified reports safely; the WSGI helper speaks HTTP for it."""

from __future__ import annotations

import hashlib
import hmac
import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import pytest

from smscore import (
    CallbackError,
    CallbackReport,
    InvalidSignatureError,
    Outcome,
    SMSConfig,
    SMSService,
    SMSState,
    StateChange,
)
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from smscore.webhooks import callback_url, status_callback_app

SECRET = b"s3cret"
STATES = {"sent": SMSState.SENT, "delivered": SMSState.DELIVERED, "failed": SMSState.ERROR}


def sign(url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(k + params[k] for k in sorted(params))
    return hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()


class SigningProvider(ScriptedProvider):
    """A provider that pushes HMAC-signed reports: {Ref, Status} signed over URL + sorted params."""

    def parse_status_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str]
    ) -> CallbackReport:
        flat = {k: v if isinstance(v, str) else v[0] for k, v in params.items()}
        given = {k.lower(): v for k, v in headers.items()}.get("x-signature", "")
        if not hmac.compare_digest(given, sign(url, flat)):
            raise InvalidSignatureError("signature does not verify")
        if flat.get("Status") not in STATES or not flat.get("Ref"):
            raise CallbackError("not a status report")
        return CallbackReport(provider_ref=flat["Ref"], outcome=Outcome(state=STATES[flat["Status"]]))


@pytest.fixture
def service() -> SMSService:
    return SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": SigningProvider(default_state=SMSState.SENDING)},
        config=SMSConfig.from_mapping({"public_base_url": "https://sms.example.com/hooks"}),
        clock=FixedClock(),
    )


def call(app: Any, path: str, params: dict[str, str], *, signature: str | None, method: str = "POST") -> str:
    body = urlencode(params).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "10.0.0.5:8000",
    }
    if signature is not None:
        environ["HTTP_X_SIGNATURE"] = signature
    status: list[str] = []
    app(environ, lambda s, h: status.append(s))
    return status[0]


PUBLIC = "https://sms.example.com/hooks/status"


class TestHandleStatusCallback:
    def test_a_valid_report_moves_the_message(self, service: SMSService) -> None:
        """A signed 'delivered' report for a SENDING message makes it DELIVERED."""
        message = service.send("+420777123456", "x")
        params = {"Ref": message.provider_ref or "", "Status": "delivered"}
        updated = service.handle_status_callback("default", PUBLIC, params, {"X-Signature": sign(PUBLIC, params)})
        assert updated is not None
        assert updated.state is SMSState.DELIVERED
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED

    @pytest.mark.parametrize(
        "tamper",
        ["wrong-signature", "altered-parameter", "missing-header", "other-url"],
    )
    def test_bad_signatures_change_nothing(self, service: SMSService, tamper: str) -> None:
        """Wrong secret, altered parameter, missing header, other URL: refused, message untouched."""
        message = service.send("+420777123456", "x")
        params = {"Ref": message.provider_ref or "", "Status": "delivered"}
        headers = {"X-Signature": sign(PUBLIC, params)}
        url = PUBLIC
        if tamper == "wrong-signature":
            headers = {"X-Signature": "0" * 64}
        elif tamper == "altered-parameter":
            params = {**params, "Status": "failed"}
        elif tamper == "missing-header":
            headers = {}
        else:
            url = "https://evil.example.com/hooks/status"
        with pytest.raises(InvalidSignatureError):
            service.handle_status_callback("default", url, params, headers)
        assert service.messages.get(message.id or 0) == message

    def test_out_of_order_and_duplicate_reports_leave_the_right_final_state(self, service: SMSService) -> None:
        """delivered, then a late 'sent', then 'delivered' again: DELIVERED, with one state change each."""
        events: list[StateChange] = []
        message = service.send("+420777123456", "x")
        service.subscribe(events.append)
        for status in ("delivered", "sent", "delivered"):
            params = {"Ref": message.provider_ref or "", "Status": status}
            service.handle_status_callback("default", PUBLIC, params, {"X-Signature": sign(PUBLIC, params)})
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED
        assert [(e.old_state, e.new_state) for e in events] == [(SMSState.SENDING, SMSState.DELIVERED)]

    def test_an_unknown_reference_is_ignored(self, service: SMSService) -> None:
        """A report for a message we never sent changes nothing and returns None."""
        params = {"Ref": "nope", "Status": "delivered"}
        assert service.handle_status_callback("default", PUBLIC, params, {"X-Signature": sign(PUBLIC, params)}) is None

    def test_a_provider_without_callbacks_is_refused(self) -> None:
        """Only providers that parse callbacks can receive them."""
        plain = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"default": ScriptedProvider()},
        )
        with pytest.raises(CallbackError, match="takes no status callbacks"):
            plain.handle_status_callback("default", PUBLIC, {}, {})


class TestWSGIApp:
    def test_status_codes(self, service: SMSService) -> None:
        """200 applied, 403 bad signature, 400 not a report, 405 not POST, 413 too big; the public URL is signed."""
        app = status_callback_app(service, "default")
        message = service.send("+420777123456", "x")
        params = {"Ref": message.provider_ref or "", "Status": "delivered"}
        local_url = "http://10.0.0.5:8000/status"
        assert call(app, "/status", params, signature=sign(local_url, params)) == "403 Forbidden"
        assert call(app, "/status", params, signature=sign(PUBLIC, params)) == "200 OK"
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED
        bad = {"Ref": "x", "Status": "exploded"}
        assert call(app, "/status", bad, signature=sign(PUBLIC, bad)) == "400 Bad Request"
        assert call(app, "/status", params, signature=None, method="GET") == "405 Method Not Allowed"
        huge = {"Ref": "x", "Status": "sent", "pad": "x" * 70_000}
        assert call(app, "/status", huge, signature=sign(PUBLIC, huge)) == "413 Content Too Large"

    def test_many_concurrent_callbacks_are_all_applied(self, service: SMSService) -> None:
        """300 messages, each reported delivered twice from racing threads: all DELIVERED, none lost."""
        app = status_callback_app(service, "default")
        messages = service.send_many([f"+4207771{i:05d}" for i in range(300)], "x")
        jobs = [m for m in messages for _ in range(2)]
        statuses: list[str] = []
        lock = threading.Lock()

        def post(chunk: list[Any]) -> None:
            for message in chunk:
                params = {"Ref": message.provider_ref, "Status": "delivered"}
                status = call(app, "/status", params, signature=sign(PUBLIC, params))
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=post, args=(jobs[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == ["200 OK"] * 600
        assert service.messages.count(SMSState.DELIVERED) == 300


def test_callback_url_prefers_the_public_base_url() -> None:
    """Behind a proxy the configured public URL replaces scheme, host and port; the query is kept."""
    assert callback_url(scheme="http", host="internal:8000", path="/s", query="a=1") == "http://internal:8000/s?a=1"
    assert (
        callback_url(scheme="http", host="internal:8000", path="/s", public_base_url="https://pub.example/base/")
        == "https://pub.example/base/s"
    )
