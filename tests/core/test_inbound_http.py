"""Twilio incoming-message webhooks over HTTP: the WSGI application (``smscore.webhooks.webhook_app``, as the
example serves it) on a loopback port, and its ASGI twin (``asgi_webhook_app``) in-process, held to the same
assertions; requests signed with twilio's own ``RequestValidator``.

Valid, forged, replayed and proxied signatures: the row is stored once or not at all. Replies go out through the
real ``twilio`` client to the loopback fake Twilio.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from twilio.request_validator import RequestValidator

import smscore
from smscore import InboundQuery, SMSService
from smscore.webhooks import asgi_webhook_app, webhook_app
from tests.asgi_client import BlockingASGITransport
from tests.async_twin import async_twin
from tests.providers.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "inbound-http-auth-token-3f1b"
OURS = "+15005550006"
PERSON = "+420777123456"
PUBLIC = "https://sms.example.com/hooks"
PUBLIC_URL = f"{PUBLIC}/inbound/us/"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output free of access logs."""


def incoming(sid: str, body: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "From": PERSON, "To": OURS, "Body": body, "NumMedia": "0"}


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


@pytest.fixture
def service() -> Iterator[SMSService]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        http = fake.http_client()
        options = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": OURS, "http_client": http}
        config = {
            "storage": "memory",
            "providers": {"us": {"backend": "twilio", "options": options}},
            "public_base_url": PUBLIC,
            "inbound_keywords": {"stop": {"reply": "You will get no more SMS from us."}},
        }
        with smscore.build_service(config) as built:
            yield built
        http.close()


@pytest.fixture(params=["wsgi", "asgi"])
def served(request: pytest.FixtureRequest, service: SMSService) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client of the application of the kind under test, and the local URL of the ``us`` provider's
    inbound webhook: the WSGI application on a free loopback port, or the ASGI one in-process (on the asyncio twin
    of ``service``, same storage and providers)."""
    if request.param == "asgi":
        async_service = async_twin(service)
        transport = BlockingASGITransport(asgi_webhook_app(async_service))
        with httpx.Client(transport=transport) as client:
            yield client, "http://10.0.0.5:8000/inbound/us/"
        asyncio.run(async_service.aclose())
        return
    server = make_server("127.0.0.1", 0, webhook_app(service), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with httpx.Client() as client:
        yield client, f"http://127.0.0.1:{server.server_port}/inbound/us/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def client(served: tuple[httpx.Client, str]) -> httpx.Client:
    return served[0]


@pytest.fixture
def local(served: tuple[httpx.Client, str]) -> str:
    """The local URL of the ``us`` provider's inbound webhook."""
    return served[1]


def stored(service: SMSService) -> int:
    return service.inbound.count(InboundQuery())


class TestTwilioOverHTTP:
    def test_a_valid_signature_over_the_public_url_stores_the_message(
        self, service: SMSService, client: httpx.Client, local: str
    ) -> None:
        """Signed over <public_base_url>/inbound/us/ (what a proxy forwards from): 200, TwiML, one row."""
        params = incoming("SM" + "a" * 32, "Running 10 minutes late")
        answer = client.post(local, data=params, headers=signed(PUBLIC_URL, params))
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/xml"
        [sms] = service.inbound.find(InboundQuery())
        assert (sms.provider, sms.sender, sms.recipient, sms.content) == ("us", PERSON, OURS, "Running 10 minutes late")
        assert sms.provider_ref == "SM" + "a" * 32

    @pytest.mark.parametrize("forgery", ["none", "other token", "local url", "body changed", "field added"])
    def test_a_forged_signature_stores_nothing(
        self, service: SMSService, client: httpx.Client, local: str, forgery: str
    ) -> None:
        """No signature, another account's token, the URL the proxy used, a changed or extended body: 403."""
        params = incoming("SM" + "b" * 32, "STOP")
        headers = {
            "none": {},
            "other token": signed(PUBLIC_URL, params, "not-our-token"),
            "local url": signed(local, params),
            "body changed": signed(PUBLIC_URL, {**params, "Body": "hello"}),
            "field added": signed(PUBLIC_URL, params),
        }[forgery]
        data = {**params, "Extra": "1"} if forgery == "field added" else params
        assert client.post(local, data=data, headers=headers).status_code == 403
        assert stored(service) == 0
        assert PERSON not in service.opt_outs

    def test_a_replayed_request_is_stored_once_and_acted_on_once(
        self, service: SMSService, client: httpx.Client, local: str
    ) -> None:
        """The same signed STOP posted five times: 200 each time, one row, one opt-out, one confirmation."""
        params = incoming("SM" + "c" * 32, "Stop")
        for _ in range(5):
            assert client.post(local, data=params, headers=signed(PUBLIC_URL, params)).status_code == 200
        assert stored(service) == 1
        assert PERSON in service.opt_outs
        assert [m.content for m in service.messages.find(recipient=PERSON)] == ["You will get no more SMS from us."]

    def test_proxied_requests_verify_whatever_host_and_scheme_the_proxy_uses(
        self, service: SMSService, client: httpx.Client, local: str
    ) -> None:
        """A proxy's Host and X-Forwarded-* headers do not matter: the public base URL is what was signed."""
        params = incoming("SM" + "d" * 32, "hello")
        headers = {**signed(PUBLIC_URL, params), "Host": "internal:8080", "X-Forwarded-Proto": "http"}
        assert client.post(local, data=params, headers=headers).status_code == 200
        assert stored(service) == 1

    def test_hostile_requests_are_bounded(self, service: SMSService, client: httpx.Client, local: str) -> None:
        """A body over 64 KiB is refused unread (413); a text longer than an inbound SMS keeps, signed, is a 400;
        too many fields is a 400; GET is 405; nothing is stored."""
        huge = {"Body": "x" * 70_000}
        assert client.post(local, data=huge).status_code == 413
        long_text = incoming("SM" + "e" * 32, "x" * 5000)
        assert client.post(local, data=long_text, headers=signed(PUBLIC_URL, long_text)).status_code == 400
        many = {f"f{i}": "1" for i in range(500)}
        assert client.post(local, data=many, headers=signed(PUBLIC_URL, many)).status_code == 400
        assert client.get(local).status_code == 405
        assert stored(service) == 0
