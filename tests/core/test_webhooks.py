"""Status callbacks: the service applies verified reports safely; the WSGI application and its ASGI twin speak
HTTP for it, held to the same assertions."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import threading
from collections.abc import Iterator, Mapping, Sequence
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
from smscore.webhooks import asgi_status_callback_app, callback_url, status_callback_app
from smscore.webhooks.decisions import request_host
from tests.asgi_client import exchange
from tests.async_twin import async_twin

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


class Poster:
    """Posts form reports to the status-callback application of one kind (WSGI or ASGI) for ``service``, as
    ``10.0.0.5:8000`` behind a proxy; answers are status codes."""

    def __init__(self, kind: str, service: SMSService) -> None:
        self.kind = kind
        self.runner = asyncio.Runner()
        self.twin = async_twin(service)
        self.wsgi = status_callback_app(service, "default")
        self.asgi = asgi_status_callback_app(self.twin, "default")

    def post(self, path: str, params: dict[str, str], *, signature: str | None, method: str = "POST") -> int:
        if self.kind == "asgi":
            return self.runner.run(self._apost(path, params, signature=signature, method=method))
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
        self.wsgi(environ, lambda s, h: status.append(s))
        return int(status[0][:3])

    def post_all(self, path: str, reports: list[tuple[dict[str, str], str]]) -> list[int]:
        """Every report posted at once: from 8 racing threads (WSGI), as concurrent tasks of one loop (ASGI)."""
        if self.kind == "asgi":

            async def all_at_once() -> list[int]:
                return await asyncio.gather(*(self._apost(path, p, signature=s) for p, s in reports))

            return self.runner.run(all_at_once())
        statuses: list[int] = []
        lock = threading.Lock()

        def post(chunk: list[tuple[dict[str, str], str]]) -> None:
            for params, signature in chunk:
                status = self.post(path, params, signature=signature)
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=post, args=(reports[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses

    async def _apost(self, path: str, params: dict[str, str], *, signature: str | None, method: str = "POST") -> int:
        body = urlencode(params).encode()
        headers = [("Host", "10.0.0.5:8000"), ("Content-Type", "application/x-www-form-urlencoded")]
        headers.append(("Content-Length", str(len(body))))
        if signature is not None:
            headers.append(("X-Signature", signature))
        answer = await exchange(self.asgi, path, method=method, chunks=[body], headers=headers)
        assert answer.status is not None
        return answer.status

    def close(self) -> None:
        self.runner.run(self.twin.aclose())
        self.runner.close()


@pytest.fixture(params=["wsgi", "asgi"])
def poster(request: pytest.FixtureRequest, service: SMSService) -> Iterator[Poster]:
    made = Poster(request.param, service)
    yield made
    made.close()


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


class TestApps:
    """The WSGI application and its ASGI twin, held to the same assertions."""

    def test_status_codes(self, service: SMSService, poster: Poster) -> None:
        """200 applied, 403 bad signature, 400 not a report, 405 not POST, 413 too big; the public URL is signed."""
        message = service.send("+420777123456", "x")
        params = {"Ref": message.provider_ref or "", "Status": "delivered"}
        local_url = "http://10.0.0.5:8000/status"
        assert poster.post("/status", params, signature=sign(local_url, params)) == 403
        assert poster.post("/status", params, signature=sign(PUBLIC, params)) == 200
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED
        bad = {"Ref": "x", "Status": "exploded"}
        assert poster.post("/status", bad, signature=sign(PUBLIC, bad)) == 400
        assert poster.post("/status", params, signature=None, method="GET") == 405
        huge = {"Ref": "x", "Status": "sent", "pad": "x" * 70_000}
        assert poster.post("/status", huge, signature=sign(PUBLIC, huge)) == 413

    def test_many_concurrent_callbacks_are_all_applied(self, service: SMSService, poster: Poster) -> None:
        """300 messages, each reported delivered twice, all at once: all DELIVERED, none lost."""
        messages = service.send_many([f"+4207771{i:05d}" for i in range(300)], "x")
        reports = [({"Ref": m.provider_ref or "", "Status": "delivered"}) for m in messages for _ in range(2)]
        assert poster.post_all("/status", [(params, sign(PUBLIC, params)) for params in reports]) == [200] * 600
        assert service.messages.count(SMSState.DELIVERED) == 300


def test_callback_url_prefers_the_public_base_url() -> None:
    """Behind a proxy the configured public URL replaces scheme, host and port; the query is kept."""
    assert callback_url(scheme="http", host="internal:8000", path="/s", query="a=1") == "http://internal:8000/s?a=1"
    assert (
        callback_url(scheme="http", host="internal:8000", path="/s", public_base_url="https://pub.example/base/")
        == "https://pub.example/base/s"
    )


def test_without_a_host_header_the_host_is_the_servers_with_its_port_unless_the_default() -> None:
    """PEP 3333's reconstruction, for both kinds of application: Host header, else server name and port."""
    assert request_host("http", "sms.example.com", "10.0.0.5", 8000) == "sms.example.com"
    assert request_host("http", None, "10.0.0.5", 8000) == "10.0.0.5:8000"
    assert request_host("https", "", "10.0.0.5", "443") == "10.0.0.5"
    assert request_host("http", None, "10.0.0.5", None) == "10.0.0.5"
