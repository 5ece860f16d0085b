"""One deadline per provider call: a peer that trickles its answer byte by byte, or resets the connection, ends
the call at the configured ``timeout`` (plus a small margin), with the message UNKNOWN (the request left, the
peer may hold it) or the delivery-check chunk failed, never minutes later."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# twilio imports its Messages resources lazily, at the first call: imported here, so that the time measured is
# the request's, not the import's.
import twilio.rest.api.v2010.account.message  # noqa: F401

import smscore
from providers.ats import ATSSMSBackend
from providers.base import SMSBackend
from providers.sms_operator import SMSOperatorBackend
from providers.sns import SNSSMSBackend
from providers.twilio import TwilioSMSBackend
from smscore import SMSState
from smscore.errors import ProviderError
from tests.contracts.providers import wire_message
from tests.providers.fake_gateways import ATSGateway, free_port
from tests.providers.fake_twilio import LoopbackAsyncDeadlineHttpClient, LoopbackDeadlineHttpClient
from tests.providers.hostile_peers import TricklingPeer

TIMEOUT = 1.0
#: What the deadline may be overrun by: one network operation's slack and a loaded machine.
MARGIN = 0.75
MODES = ["headers", "body", "reset"]


def _ats(url: str) -> dict[str, Any]:
    return {
        "url": url,
        "username": "user",
        "password": "pw",
        "project_keyword": "KW",
        "output_sender_number": "90099",
        "timeout": TIMEOUT,
    }


def _sms_operator(url: str) -> dict[str, Any]:
    return {"url": url, "username": "user", "password": "pw", "timeout": TIMEOUT}


XML_GATEWAYS: list[tuple[str, type[SMSBackend], Callable[[str], dict[str, Any]]]] = [
    ("ats", ATSSMSBackend, _ats),
    ("sms-operator", SMSOperatorBackend, _sms_operator),
]


@pytest.fixture(params=MODES)
def peer(request: pytest.FixtureRequest) -> Iterator[TricklingPeer]:
    # At 0.05 s a byte, the 4 KiB body alone would take over three minutes.
    with TricklingPeer(mode=request.param, interval=0.05) as hostile:
        yield hostile


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize(("alias", "backend", "options"), XML_GATEWAYS, ids=[g[0] for g in XML_GATEWAYS])
class TestXMLGateways:
    """ATS and SMS-operator, through the service and through the backend's delivery check."""

    def test_send_ends_at_the_deadline_with_the_message_unknown(
        self, peer: TricklingPeer, alias: str, backend: type[SMSBackend], options: Callable[[str], dict[str, Any]]
    ) -> None:
        """``send`` returns by the deadline; the request left, so the message is UNKNOWN, not re-sent blindly."""
        service = smscore.build_service({"storage": "memory", "provider": alias, "provider_options": options(peer.url)})
        try:
            message, elapsed = _timed(lambda: service.send("+420777123456", "Hello"))
        finally:
            service.close()
        assert elapsed < TIMEOUT + MARGIN
        assert message.state is SMSState.UNKNOWN
        assert peer.requests == 1
        if peer.mode != "reset":
            assert peer.bytes_sent > 0  # the peer really was answering, only too slowly

    def test_a_delivery_check_fails_at_the_deadline(
        self, peer: TricklingPeer, alias: str, backend: type[SMSBackend], options: Callable[[str], dict[str, Any]]
    ) -> None:
        """A check whose only chunk trickles fails as a whole (ProviderError) by the deadline."""
        with backend.from_options(options(peer.url)) as built:  # type: ignore[attr-defined]
            started = time.monotonic()
            with pytest.raises(ProviderError):
                built.bulk_check_sms_states([wire_message(state=SMSState.SENDING)])
            elapsed = time.monotonic() - started
        assert elapsed < TIMEOUT + MARGIN

    def test_under_asyncio_publish_and_check_end_at_the_deadline(
        self, peer: TricklingPeer, alias: str, backend: type[SMSBackend], options: Callable[[str], dict[str, Any]]
    ) -> None:
        """The asyncio client is bounded by the same deadline: UNKNOWN, then a failed check, each by ``timeout``."""

        async def publish_then_check(built: Any) -> tuple[Any, float, float]:
            started = time.monotonic()
            (outcome,) = await built.apublish([wire_message()])
            published = time.monotonic()
            with pytest.raises(ProviderError):
                await built.abulk_check_sms_states([wire_message(state=SMSState.SENDING)])
            await built.aclose()
            return outcome, published - started, time.monotonic() - published

        with backend.from_options(options(peer.url)) as built:  # type: ignore[attr-defined]
            outcome, publishing, checking = asyncio.run(publish_then_check(built))
        assert outcome.state is SMSState.UNKNOWN
        assert publishing < TIMEOUT + MARGIN
        assert checking < TIMEOUT + MARGIN

    def test_each_request_of_a_batch_gets_its_own_deadline(
        self, alias: str, backend: type[SMSBackend], options: Callable[[str], dict[str, Any]]
    ) -> None:
        """Two chunks, two requests: each ends at its own deadline, the second is not starved by the first."""
        with (
            TricklingPeer(mode="body", interval=0.05) as hostile,
            backend.from_options({**options(hostile.url), "max_batch_size": 1}) as built,  # type: ignore[attr-defined]
        ):
            outcomes, elapsed = _timed(lambda: built.publish([wire_message(), wire_message()]))
        assert [o.state for o in outcomes] == [SMSState.UNKNOWN, SMSState.UNKNOWN]
        assert hostile.requests == 2
        assert 2 * TIMEOUT - 0.1 < elapsed < 2 * TIMEOUT + MARGIN


#: A Message resource as Twilio answers a create or a fetch: what a patient client would have read.
TWILIO_MESSAGE = (
    b'{"sid": "SM00000000000000000000000000000001", "status": "queued", "to": "+420777123456", '
    b'"body": "Hello", "num_segments": "1", "direction": "outbound-api", "price": null}'
)


class TestTwilio:
    """Twilio through the HTTP client the backend builds (pointed at the hostile peer)."""

    @pytest.fixture
    def peer(self, request: pytest.FixtureRequest) -> Iterator[TricklingPeer]:
        mode = getattr(request, "param", "body")
        with TricklingPeer(mode=mode, interval=0.05, status=201, body=TWILIO_MESSAGE * 8) as hostile:
            yield hostile

    def _backend(self, peer: TricklingPeer) -> TwilioSMSBackend:
        options = {
            "account_sid": "AC" + "0" * 32,
            "auth_token": "token",
            "from_": "+15005550006",
            "http_client": LoopbackDeadlineHttpClient(peer.base_url, timeout=TIMEOUT),
            "async_http_client": functools.partial(LoopbackAsyncDeadlineHttpClient, peer.base_url, timeout=TIMEOUT),
        }
        return TwilioSMSBackend.from_options(options)

    @pytest.mark.parametrize("peer", MODES, indirect=True)
    def test_create_ends_at_the_deadline_with_the_message_unknown(self, peer: TricklingPeer) -> None:
        """The create request left; its answer trickles (or the connection resets): UNKNOWN at the deadline."""
        backend = self._backend(peer)
        (outcome,), elapsed = _timed(lambda: backend.publish([wire_message()]))
        assert elapsed < TIMEOUT + MARGIN
        assert outcome.state is SMSState.UNKNOWN
        assert peer.requests == 1

    @pytest.mark.parametrize("peer", MODES, indirect=True)
    def test_under_asyncio_create_ends_at_the_deadline_with_the_message_unknown(self, peer: TricklingPeer) -> None:
        """The asyncio client (``httpx.AsyncClient``) is bounded by the same deadline."""
        backend = self._backend(peer)

        async def create() -> Any:
            try:
                return await backend.apublish([wire_message()])
            finally:
                await backend.aclose()

        (outcome,), elapsed = _timed(lambda: asyncio.run(create()))
        assert elapsed < TIMEOUT + MARGIN
        assert outcome.state is SMSState.UNKNOWN
        assert peer.requests == 1

    @pytest.mark.parametrize("peer", ["headers", "body"], indirect=True)
    def test_a_fetch_fails_the_check_at_the_deadline(self, peer: TricklingPeer) -> None:
        """A delivery check whose only fetch trickles fails as a whole by the deadline."""
        backend = self._backend(peer)
        message = wire_message(state=SMSState.SENDING, provider_ref="SM00000000000000000000000000000001")
        started = time.monotonic()
        with pytest.raises(ProviderError):
            backend.bulk_check_sms_states([message])
        assert time.monotonic() - started < TIMEOUT + MARGIN


class TestSNS:
    """SNS (and CloudWatch Logs for delivery checks) through the HTTP session the backend gives botocore."""

    def _backend(self, peer: TricklingPeer, **options: Any) -> SNSSMSBackend:
        return SNSSMSBackend.from_options(
            {
                "region": "eu-west-1",
                "aws_access_key_id": "AKIDEXAMPLE",
                "aws_secret_access_key": "secret",
                "endpoint_url": peer.base_url,
                "timeout": TIMEOUT,
                **options,
            }
        )

    def test_publish_ends_at_the_deadline_with_the_message_unknown(self, peer: TricklingPeer) -> None:
        """The Publish request left; its answer trickles (or the connection resets): UNKNOWN at the deadline."""
        backend = self._backend(peer)
        try:
            (outcome,), elapsed = _timed(lambda: backend.publish([wire_message()]))
        finally:
            backend.close()
        assert elapsed < TIMEOUT + MARGIN
        assert outcome.state is SMSState.UNKNOWN
        assert peer.requests == 1

    def test_a_delivery_check_fails_at_the_deadline(self, peer: TricklingPeer) -> None:
        """Reading the delivery logs from a trickling peer fails by the deadline, botocore's retries included."""
        backend = self._backend(peer, check_delivery=True, account_id="123456789012")
        message = wire_message(state=SMSState.SENT, provider_ref="2d2f4ab3-0000-4000-8000-000000000000")
        started = time.monotonic()
        try:
            with pytest.raises(Exception, match=r"Read timeout|Connect timeout|Connection was closed"):
                backend.bulk_check_sms_states([message])  # type: ignore[attr-defined]
        finally:
            backend.close()
        assert time.monotonic() - started < TIMEOUT + MARGIN


class TestProxiesFromTheEnvironment:
    """The clients built for the deadline still go through the proxies the environment names."""

    @pytest.fixture
    def gateway(self) -> Iterator[ATSGateway]:
        with ATSGateway(username="user", password="pw") as fake:
            yield fake

    def test_http_proxy_is_used(self, gateway: ATSGateway, monkeypatch: pytest.MonkeyPatch) -> None:
        """HTTP_PROXY pointing nowhere: the request never reaches the gateway (WAITING, safe to send again)."""
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with ATSSMSBackend.from_options(_ats(gateway.url)) as backend:
            (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.WAITING
        assert gateway.requests == []

    def test_no_proxy_bypasses_it(self, gateway: ATSGateway, monkeypatch: pytest.MonkeyPatch) -> None:
        """A host listed in NO_PROXY is reached directly."""
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        with ATSSMSBackend.from_options(_ats(gateway.url)) as backend:
            (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.SENDING
        assert len(gateway.requests) == 1
