"""The Twilio backend through the real ``twilio`` client, whose HTTP layer talks to a loopback fake Twilio API.

No part of the client is patched: ``LoopbackHttpClient`` is a ``TwilioHttpClient`` (the library's HTTP seam)
pointed at :class:`~tests.providers.fake_twilio.FakeTwilio`, a real HTTP server on 127.0.0.1 that records every
request. Request shapes are also checked against Twilio's OpenAPI description in ``test_twilio_openapi.py``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

import smscore
from providers.twilio import (
    LOOKUP_LIMIT,
    STATUS_STATES,
    TwilioSMSBackend,
    error_outcome,
    exception_outcome,
    status_outcome,
)
from smscore import (
    CallbackError,
    ConfigurationError,
    DeliveryChecker,
    InvalidSignatureError,
    Outcome,
    ProviderError,
    SMSState,
    StatusCallbackReceiver,
)
from smscore.testing import FixedClock
from tests.contracts.providers import ProviderContract, wire_message
from tests.providers.fake_twilio import FakeTwilio, closed_port_url

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-6f1d2c"
API_KEY = "SK" + "fedcba9876543210" * 2
API_SECRET = "twilio-test-api-secret-93be1a"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
SENDER = "+15005550006"
CALLBACK_URL = "https://sms.example.com/twilio/status"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, api_key=API_KEY, api_secret=API_SECRET) as server:
        yield server


def _options(fake: FakeTwilio, http: Any, **options: Any) -> dict[str, Any]:
    return {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": SENDER, "http_client": http, **options}


@pytest.fixture
def http(fake: FakeTwilio) -> Iterator[Any]:
    client = fake.http_client(timeout=1.0)
    yield client
    client.close()


@pytest.fixture
def backend(fake: FakeTwilio, http: Any) -> TwilioSMSBackend:
    return TwilioSMSBackend.from_options(_options(fake, http, async_http_client=fake.async_http_client(timeout=1.0)))


class TwilioHarness:
    """The Twilio backend and the loopback fake it talks to."""

    def __init__(self, fake: FakeTwilio, provider: TwilioSMSBackend) -> None:
        self.fake = fake
        self.provider = provider

    def peer_accepts(self) -> None:
        self.fake.accept()

    def peer_rejects(self) -> None:
        self.fake.reject(400, 21211, "The 'To' number +420777123456 is not a valid phone number.")

    def peer_fails_transiently(self) -> None:
        self.fake.fail(503, 20503, "Service Unavailable")

    def peer_times_out_after_receiving(self) -> None:
        self.fake.hang()

    def peer_holds_the_request(self) -> None:
        self.fake.hang()

    def received(self) -> list[tuple[str, str]]:
        return [(r.field("To") or "", r.field("Body") or "") for r in self.fake.creates]


class TestTwilioContract(ProviderContract):
    """The provider contract, Twilio through the real client."""

    @pytest.fixture
    def harness(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> TwilioHarness:
        return TwilioHarness(fake, backend)


class TestCreate:
    """What reaches Twilio when a message is created."""

    def test_the_request_carries_to_body_from_and_the_options(self, fake: FakeTwilio, http: Any) -> None:
        """POST .../Messages.json with To, Body, From, StatusCallback and ValidityPeriod, Basic-authenticated."""
        backend = TwilioSMSBackend.from_options(_options(fake, http, status_callback=CALLBACK_URL, validity_period=600))
        (outcome,) = backend.publish([wire_message("Kód 1234 🎉")])
        (request,) = fake.creates
        assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert request.form == {
            "To": ["+420777123456"],
            "Body": ["Kód 1234 🎉"],
            "From": [SENDER],
            "StatusCallback": [CALLBACK_URL],
            "ValidityPeriod": ["600"],
        }
        assert (
            request.headers["Authorization"]
            == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        )
        sid = request.response_json["sid"]
        assert outcome == Outcome.accepted(
            SMSState.SENDING, provider_ref=sid, segments=1, extra_sender_data={"twilio_status": "queued"}
        )

    def test_a_messaging_service_and_an_api_key(self, fake: FakeTwilio, http: Any) -> None:
        """MessagingServiceSid instead of From; an API key authenticates, the account stays in the URL."""
        backend = TwilioSMSBackend.from_options(
            {
                "account_sid": ACCOUNT_SID,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "messaging_service_sid": SERVICE_SID,
                "http_client": http,
            }
        )
        (outcome,) = backend.publish([wire_message()])
        (request,) = fake.creates
        assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert request.form == {"To": ["+420777123456"], "Body": ["Hello"], "MessagingServiceSid": [SERVICE_SID]}
        assert (
            request.headers["Authorization"] == "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        )
        assert outcome.state is SMSState.SENDING
        assert outcome.extra_sender_data == {"twilio_status": "accepted"}

    def test_a_message_sender_overrides_from(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """The message's own sender is sent as From."""
        backend.publish([wire_message(sender="AcmeShop")])
        assert fake.creates[0].field("From") == "AcmeShop"

    def test_price_currency_and_segments_are_kept(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """Twilio's negative charge becomes a positive price, with its currency and the segments."""
        fake.accept(status="sent", price="-0.00750")
        (outcome,) = backend.publish([wire_message()])
        assert (outcome.state, outcome.price, outcome.price_unit, outcome.segments) == (
            SMSState.SENT,
            Decimal("0.00750"),
            "USD",
            1,
        )

    @pytest.mark.parametrize(("status", "state"), sorted(STATUS_STATES.items()))
    def test_every_status_answered_on_create(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, status: str, state: SMSState
    ) -> None:
        """Whatever status the created message has, the outcome follows the table and keeps the raw status."""
        fake.accept(status=status)
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is state
        assert outcome.extra_sender_data["twilio_status"] == status
        assert outcome.provider_ref == fake.creates[0].response_json["sid"]

    def test_an_unknown_status_is_ambiguous_not_a_crash(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """A status Twilio may add one day: UNKNOWN with the raw status kept, never re-sent blindly."""
        fake.accept(status="teleported")
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.UNKNOWN
        assert outcome.extra_sender_data == {"twilio_status": "teleported"}
        assert outcome.provider_ref

    @pytest.mark.parametrize(
        ("http_status", "code", "state"),
        [
            (400, 21211, SMSState.ERROR),
            (400, 21408, SMSState.ERROR),
            (400, 21610, SMSState.ERROR),
            (400, 21612, SMSState.ERROR),
            (400, 21614, SMSState.ERROR),
            (400, 21617, SMSState.ERROR),
            (401, 20003, SMSState.ERROR),
            (404, 20404, SMSState.ERROR),
            (429, 20429, SMSState.WAITING),
            (400, 30001, SMSState.WAITING),
            (400, 21611, SMSState.WAITING),
            (500, 20500, SMSState.WAITING),
            (503, None, SMSState.WAITING),
            (502, None, SMSState.UNKNOWN),
            (504, None, SMSState.UNKNOWN),
        ],
    )
    def test_error_answers(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, http_status: int, code: int | None, state: SMSState
    ) -> None:
        """Twilio's error answers, through the real client's TwilioRestException, become the right outcome."""
        fake.reject(http_status, code or 0, "the details") if code else fake.fail(http_status, None, "the details")
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is state
        assert outcome.error_code == str(code if code else http_status)
        assert "the details" in (outcome.error or "")

    def test_wrong_credentials_are_a_final_error(self, fake: FakeTwilio, http: Any) -> None:
        """The fake refuses a wrong token with 401 / 20003: ERROR, nothing created."""
        backend = TwilioSMSBackend.from_options(_options(fake, http, auth_token="wrong"))
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.ERROR
        assert outcome.error_code == "20003"
        assert fake.messages == {}

    def test_a_read_timeout_is_ambiguous(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """Twilio created the message but the answer never came: UNKNOWN, one request."""
        fake.hang()
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.UNKNOWN
        assert "in time" in (outcome.error or "")
        assert len(fake.creates) == 1
        assert len(fake.messages) == 1

    def test_a_connection_dropped_after_sending_is_ambiguous(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """Twilio created the message and hung up: UNKNOWN."""
        fake.drop()
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.UNKNOWN
        assert len(fake.messages) == 1

    def test_a_refused_connection_is_transient(self) -> None:
        """Nothing listens: WAITING, nothing was sent."""
        with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as unused:
            http = unused.http_client(timeout=0.5)
        http.base_url = closed_port_url()
        backend = TwilioSMSBackend.from_options(_options(unused, http))
        (outcome,) = backend.publish([wire_message()])
        http.close()
        assert outcome.state is SMSState.WAITING
        assert "could not connect" in (outcome.error or "")

    def test_after_an_outage_the_rest_of_the_batch_is_not_tried(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """Throttled on the first message: every message WAITING, one request made."""
        fake.fail(429, 20429, "Too Many Requests")
        outcomes = backend.publish([wire_message(), wire_message(), wire_message()])
        assert [o.state for o in outcomes] == [SMSState.WAITING] * 3
        assert len(fake.creates) == 1


class TestDeliveryCheck:
    """Fetching messages by sid."""

    def _created(self, backend: TwilioSMSBackend, count: int) -> list[smscore.SMSMessage]:
        messages = [wire_message(f"message {i}", sent_at=datetime.now(UTC)) for i in range(count)]
        outcomes = backend.publish(messages)
        return [
            attrs.evolve(m, state=o.state, provider_ref=o.provider_ref) for m, o in zip(messages, outcomes, strict=True)
        ]

    def test_statuses_errors_prices_and_missing_messages(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """Each message is fetched by sid; a deleted one and one without a sid give None."""
        delivered, undelivered, deleted, queued = self._created(backend, 4)
        fake.set_status(delivered.provider_ref or "", "delivered", price="-0.0079", num_segments="2")
        fake.set_status(
            undelivered.provider_ref or "", "undelivered", error_code=30003, error_message="Unreachable handset"
        )
        fake.forget(deleted.provider_ref or "")
        reports = backend.bulk_check_sms_states([delivered, undelivered, deleted, queued, wire_message()])
        fetched = [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.method == "GET"]
        assert fetched == [f"{m.provider_ref}.json" for m in (delivered, undelivered, deleted, queued)]
        assert reports[0] == Outcome.accepted(
            SMSState.DELIVERED,
            provider_ref=delivered.provider_ref,
            price=Decimal("0.0079"),
            price_unit="USD",
            segments=2,
            extra_sender_data={"twilio_status": "delivered"},
        )
        assert reports[1] is not None
        assert (reports[1].state, reports[1].error_code) == (SMSState.ERROR, "30003")
        assert reports[1].error == "Twilio reports the message undelivered: Unreachable handset (error 30003)"
        assert reports[2] is None
        assert reports[3] is not None
        assert reports[3].state is SMSState.SENDING
        assert reports[4] is None

    def test_a_check_that_cannot_fetch_anything_raises(self, fake: FakeTwilio, http: Any) -> None:
        """Wrong credentials: not one message fetched, ProviderError (the service counts a failed chunk)."""
        good = TwilioSMSBackend.from_options(_options(fake, http))
        messages = self._created(good, 2)
        bad = TwilioSMSBackend.from_options(_options(fake, http, auth_token="wrong-token"))
        with pytest.raises(ProviderError, match="20003"):
            bad.bulk_check_sms_states(messages)
        assert len([r for r in fake.requests if r.method == "GET"]) == 1

    def test_a_check_stops_at_the_first_failure_and_keeps_what_it_learned(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """The API goes away mid-chunk: reports so far are kept, the rest are None, no more requests."""
        first, second, third = self._created(backend, 3)
        fake.set_status(first.provider_ref or "", "delivered")
        fake.fail_fetches(503, 20503, after=1)
        reports = backend.bulk_check_sms_states([first, second, third])
        assert reports[0] is not None
        assert reports[0].state is SMSState.DELIVERED
        assert reports[1:] == [None, None]
        assert len([r for r in fake.requests if r.method == "GET"]) == 2

    def test_through_the_service(self, fake: FakeTwilio, http: Any) -> None:
        """End to end: build_service sends, Twilio reports delivered, check_delivery stores DELIVERED."""
        clock = FixedClock(datetime.now(UTC))
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)}, clock=clock)
        with service:
            message = service.send("+420 777 123 456", "Your code is 1234")
            assert message.state is SMSState.SENDING
            fake.set_status(message.provider_ref or "", "delivered", price="-0.0400")
            clock.advance(minutes=1)
            report = service.check_delivery()
            stored = service.messages.get(message.id or 0)
        assert report.changed == 1
        assert (stored.state, stored.price, stored.price_unit) == (SMSState.DELIVERED, Decimal("0.0400"), "USD")
        assert isinstance(service.providers["default"], DeliveryChecker)

    def test_a_check_fetches_each_message_once(self, fake: FakeTwilio, http: Any) -> None:
        """Messages the check moves from SENDING to SENT are not fetched again in the same run."""
        clock = FixedClock(datetime.now(UTC))
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)}, clock=clock)
        with service:
            messages = [service.send("+420777123456", f"hello {n}") for n in range(3)]
            for message in messages:
                fake.set_status(message.provider_ref or "", "sent")
            clock.advance(minutes=1)
            report = service.check_delivery()
            states = {service.messages.get(m.id or 0).state for m in messages}
        fetched = collections.Counter(request.path.rsplit("/", 1)[-1].removesuffix(".json") for request in fake.fetches)
        assert fetched == {m.provider_ref: 1 for m in messages}
        assert (report.checked, report.changed, states) == (3, 3, {SMSState.SENT})

    def test_a_lost_answer_is_resolved_through_the_service(self, fake: FakeTwilio, http: Any) -> None:
        """End to end: the create answer is lost, the message is stored UNKNOWN without a sid; check_delivery
        finds it at Twilio and stores its sid and state."""
        clock = FixedClock(_now())
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)}, clock=clock)
        with service:
            fake.drop()
            message = service.send("+420 777 123 456", "Your code is 1234")
            assert (message.state, message.provider_ref) == (SMSState.UNKNOWN, None)
            (sid,) = fake.messages
            fake.set_status(sid, "delivered", price="-0.0400")
            clock.advance(minutes=1)
            report = service.check_delivery()
            stored = service.messages.get(message.id or 0)
        assert (report.changed, report.failed_chunks) == (1, 0)
        assert (stored.state, stored.provider_ref, stored.price) == (SMSState.DELIVERED, sid, Decimal("0.0400"))
        assert len(fake.creates) == 1

    def test_a_never_received_message_goes_back_to_waiting_after_the_grace_period(
        self, fake: FakeTwilio, http: Any
    ) -> None:
        """End to end: two creates answered 504 before Twilio created anything. The one UNKNOWN for longer than
        ``not_found_grace`` (sent three minutes ago by the service clock) is WAITING after the check, never
        received; the one just sent stays UNKNOWN."""
        clock = FixedClock(_now() - timedelta(minutes=3))
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)}, clock=clock)
        with service:
            fake.fail(504, None, "Gateway Timeout")
            old = service.send("+420777123456", "Your code is 1234")
            clock.set(_now())
            new = service.send("+420777123456", "Your code is 5678")
            assert (old.state, new.state) == (SMSState.UNKNOWN, SMSState.UNKNOWN)
            report = service.check_delivery()
            stored_old = service.messages.get(old.id or 0)
            stored_new = service.messages.get(new.id or 0)
        assert fake.messages == {}
        assert (report.changed, report.failed_chunks) == (1, 0)
        assert (stored_old.state, stored_old.provider_ref) == (SMSState.WAITING, None)
        assert "never received" in (stored_old.error or "")
        assert stored_new.state is SMSState.UNKNOWN


def _now() -> datetime:
    # Twilio's dates have whole seconds: a whole-second "now" keeps the window arithmetic of the tests exact.
    return datetime.now(UTC).replace(microsecond=0)


#: The ways a create request reaches Twilio while its answer is lost.
LOSSES: dict[str, Callable[[FakeTwilio], None]] = {
    "read-timeout": FakeTwilio.hang,
    "dropped": FakeTwilio.drop,
    "502": lambda fake: fake.fail(502, None, "Bad Gateway", created=True),
    "504": lambda fake: fake.fail(504, None, "Gateway Timeout", created=True),
}


def _unknown(backend: TwilioSMSBackend, content: str = "Your code is 1234", **changes: Any) -> smscore.SMSMessage:
    """Publish a message whose create answer the fake was told to lose (or refuse ambiguously): the message as
    stored afterwards, UNKNOWN without a sid, with ``created_at`` and ``changed_at`` now unless given."""
    at = _now()
    fields: dict[str, Any] = {"created_at": at, "changed_at": at, **changes}
    message = wire_message(content, **fields)
    (outcome,) = backend.publish([message])
    assert (outcome.state, outcome.provider_ref) == (SMSState.UNKNOWN, None)
    return attrs.evolve(message, state=SMSState.UNKNOWN, error=outcome.error)


class TestLookUpWithoutSid:
    """A message UNKNOWN without a sid is looked up in Twilio's list of messages to its recipient."""

    @pytest.mark.parametrize("loss", sorted(LOSSES))
    def test_a_created_message_whose_answer_was_lost_is_found(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, loss: str
    ) -> None:
        """Twilio created it but the answer was lost: the look-up reports its status and sid exactly as a fetch
        of that sid does; one list request (To, From, a small page), no fetch."""
        LOSSES[loss](fake)
        message = _unknown(backend)
        (sid,) = fake.messages
        fake.set_status(sid, "delivered", price="-0.0079", num_segments="2")
        (report,) = backend.bulk_check_sms_states([message])
        assert report == Outcome.accepted(
            SMSState.DELIVERED,
            provider_ref=sid,
            price=Decimal("0.0079"),
            price_unit="USD",
            segments=2,
            extra_sender_data={"twilio_status": "delivered"},
        )
        (listing,) = fake.lists
        assert listing.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert listing.query == {"To": ["+420777123456"], "PageSize": [str(LOOKUP_LIMIT)]}
        assert fake.fetches == []
        fetched = backend.bulk_check_sms_states([attrs.evolve(message, provider_ref=sid)])
        assert fetched == [report]

    def test_a_failed_message_found_is_an_error_with_its_sid(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """The status found goes through the same table: undelivered is ERROR with Twilio's code and the sid."""
        fake.drop()
        message = _unknown(backend)
        (sid,) = fake.messages
        fake.set_status(sid, "undelivered", error_code=30003, error_message="Unreachable handset")
        (report,) = backend.bulk_check_sms_states([message])
        assert report is not None
        assert (report.state, report.provider_ref, report.error_code) == (SMSState.ERROR, sid, "30003")

    def test_nothing_found_after_the_grace_period_means_never_received(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """A 504 before Twilio created anything: once UNKNOWN for the grace period (120 s), the look-up finding
        nothing reports WAITING (never received, safe to send again); within it, nothing."""
        fake.fail(504, None, "Gateway Timeout")
        settled = _unknown(
            backend, changed_at=_now() - timedelta(seconds=121), created_at=_now() - timedelta(minutes=3)
        )
        recent = _unknown(backend, changed_at=_now() - timedelta(seconds=100), created_at=_now() - timedelta(minutes=3))
        assert fake.messages == {}
        reports = backend.bulk_check_sms_states([settled, recent])
        assert reports[0] is not None
        assert (reports[0].state, reports[0].provider_ref) == (SMSState.WAITING, None)
        assert "never received" in (reports[0].error or "")
        assert reports[1] is None
        assert len(fake.lists) == 2

    def test_a_zero_grace_reports_never_received_at_once(self, fake: FakeTwilio, http: Any) -> None:
        """``not_found_grace=0``: the first look-up that finds nothing reports WAITING."""
        backend = TwilioSMSBackend.from_options(_options(fake, http, not_found_grace=0))
        fake.fail(502, None, "Bad Gateway")
        (report,) = backend.bulk_check_sms_states([_unknown(backend)])
        assert report is not None
        assert report.state is SMSState.WAITING

    def test_several_candidates_are_never_guessed(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Two lost creates of the same text to the same recipient: which one is ours cannot be told, so nothing
        is reported and one warning is logged."""
        fake.drop()
        first = _unknown(backend)
        second = _unknown(backend)
        assert len(fake.messages) == 2
        caplog.set_level(logging.WARNING, logger="providers.twilio")
        caplog.clear()
        assert backend.bulk_check_sms_states([first]) == [None]
        warnings = [r for r in caplog.records if r.name == "providers.twilio"]
        assert len(warnings) == 1
        assert "2 messages that could be it" in warnings[0].getMessage()
        assert backend.bulk_check_sms_states([second]) == [None]

    @pytest.mark.parametrize(
        ("offset", "found"),
        [
            (timedelta(minutes=-10), False),
            (timedelta(seconds=-61), False),
            (timedelta(seconds=-60), True),
            (timedelta(0), True),
            (timedelta(minutes=5, seconds=60), True),
            (timedelta(minutes=5, seconds=61), False),
        ],
        ids=["much-older", "just-before", "first-second", "created", "last-second", "just-after"],
    )
    def test_only_messages_created_within_the_window_are_candidates(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, offset: timedelta, found: bool
    ) -> None:
        """The window runs from a minute before ``created_at`` to a minute after ``changed_at`` (here five
        minutes later); a message with the same body outside it is not ours, so (past the grace period) the
        look-up reports never received."""
        created = _now() - timedelta(minutes=10)
        fake.fail(504, None, "Gateway Timeout")
        message = _unknown(backend, created_at=created, changed_at=created + timedelta(minutes=5))
        sid = fake.add_message("+420777123456", message.content, from_=SENDER, date_created=created + offset)
        (report,) = backend.bulk_check_sms_states([message])
        assert report is not None
        if found:
            assert (report.state, report.provider_ref) == (SMSState.DELIVERED, sid)
        else:
            assert (report.state, report.provider_ref) == (SMSState.WAITING, None)

    def test_inbound_messages_other_texts_and_older_copies_are_not_candidates(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """Among an older message with the same body, an inbound one with the same body (the recipient is a
        Twilio number of the account), one with another body and one of another sender, only ours is found."""
        created = _now() - timedelta(minutes=5)
        fake.add_message("+420777123456", "Your code is 1234", from_=SENDER, date_created=created - timedelta(days=1))
        fake.drop()
        message = _unknown(backend, created_at=created)
        ours = list(fake.messages)[-1]
        fake.add_message("+420777123456", "Your code is 1234", from_=SENDER, direction="inbound", status="received")
        fake.add_message("+420777123456", "Your code is 1235", from_=SENDER)
        fake.add_message("+420777123456", "Your code is 1234", from_="+15005550001")
        (report,) = backend.bulk_check_sms_states([message])
        assert report is not None
        assert (report.provider_ref, report.state) == (ours, SMSState.SENDING)

    def test_inbound_messages_do_not_count_as_found(self, fake: FakeTwilio, backend: TwilioSMSBackend) -> None:
        """Past the grace period, an inbound message with the same text is not ours: never received."""
        created = _now() - timedelta(minutes=5)
        fake.fail(504, None, "Gateway Timeout")
        message = _unknown(backend, created_at=created, changed_at=created)
        fake.add_message("+420777123456", message.content, from_=SENDER, direction="inbound", date_created=created)
        (report,) = backend.bulk_check_sms_states([message])
        assert report is not None
        assert report.state is SMSState.WAITING

    @pytest.mark.parametrize(
        ("body", "from_"),
        [("re-encoded", SENDER), ("same", "+15005550001")],
        ids=["other-text", "other-sender"],
    )
    def test_an_outbound_message_at_the_time_that_is_not_a_candidate_concludes_nothing(
        self, fake: FakeTwilio, backend: TwilioSMSBackend, body: str, from_: str
    ) -> None:
        """Twilio may re-encode a text (Smart Encoding) and a sender may change between sending and checking:
        an outbound message to the recipient in the window that does not match keeps the message UNKNOWN
        (None) rather than "never received", which could send it twice."""
        created = _now() - timedelta(minutes=5)
        fake.fail(504, None, "Gateway Timeout")
        message = _unknown(backend, created_at=created, changed_at=created)
        text = message.content if body == "same" else message.content.replace("code", "c0de")
        fake.add_message("+420777123456", text, from_=from_, date_created=created)
        assert backend.bulk_check_sms_states([message]) == [None]

    def test_a_full_page_that_does_not_reach_back_proves_nothing(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """More messages to the recipient since ours than one look-up reads: "none found" would send it twice,
        so nothing is reported; the look-up stays one request."""
        created = _now() - timedelta(minutes=5)
        fake.fail(504, None, "Gateway Timeout", created=True)
        message = _unknown(backend, created_at=created, changed_at=created)
        for i in range(LOOKUP_LIMIT):
            fake.add_message("+420777123456", f"news {i}", from_=SENDER, date_created=created + timedelta(seconds=i))
        assert backend.bulk_check_sms_states([message]) == [None]
        assert len(fake.lists) == 1

    def test_the_list_asks_by_recipient_and_the_sender_picks_the_candidate(self, fake: FakeTwilio, http: Any) -> None:
        """The list request filters only by recipient (a changed sender must not hide the message); a message's
        own sender picks the candidate, and with only a Messaging Service any sender matches."""
        backend = TwilioSMSBackend.from_options(_options(fake, http))
        fake.drop()
        backend.bulk_check_sms_states([_unknown(backend, sender="AcmeShop")])
        service_only = TwilioSMSBackend.from_options(
            {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "messaging_service_sid": SERVICE_SID,
                "http_client": http,
            }
        )
        (report,) = service_only.bulk_check_sms_states([_unknown(service_only, "Via the service")])
        assert [r.query.get("From") for r in fake.lists] == [None, None]
        assert report is not None
        assert report.provider_ref == next(
            sid for sid, m in fake.messages.items() if m["messaging_service_sid"] == SERVICE_SID
        )

    def test_only_unknown_messages_without_a_sid_are_looked_up(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """WAITING and SENDING messages without a sid ask nothing; an UNKNOWN one with a sid is fetched."""
        fake.accept()
        (outcome,) = backend.publish([wire_message()])
        with_sid = attrs.evolve(wire_message(), state=SMSState.UNKNOWN, provider_ref=outcome.provider_ref)
        waiting = wire_message(state=SMSState.WAITING)
        sending = wire_message(state=SMSState.SENDING)
        reports = backend.bulk_check_sms_states([waiting, sending, with_sid])
        assert reports[:2] == [None, None]
        assert reports[2] is not None
        assert reports[2].provider_ref == outcome.provider_ref
        assert (len(fake.lists), len(fake.fetches)) == (0, 1)

    def test_a_look_up_that_cannot_be_made_raises(self, fake: FakeTwilio, http: Any) -> None:
        """Wrong credentials: the list call is refused (401 / 20003), nothing answered, ProviderError naming it."""
        good = TwilioSMSBackend.from_options(_options(fake, http))
        fake.drop()
        message = _unknown(good)
        bad = TwilioSMSBackend.from_options(_options(fake, http, auth_token="wrong-token"))
        with pytest.raises(ProviderError, match="20003"):
            bad.bulk_check_sms_states([message, message])
        assert len(fake.lists) == 1

    def test_a_failing_look_up_stops_the_check_like_a_failing_fetch(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """A fetch answered, then the list call fails: what was learnt is kept, the rest is None, no more
        requests, no exception."""
        fake.accept()
        first, last = (wire_message(f"text {i}") for i in range(2))
        outcomes = backend.publish([first, last])
        fetched, later = (
            attrs.evolve(m, state=SMSState.SENDING, provider_ref=o.provider_ref)
            for m, o in zip((first, last), outcomes, strict=True)
        )
        fake.drop()
        lost = _unknown(backend)
        fake.fail_lists(503, 20503)
        reports = backend.bulk_check_sms_states([fetched, lost, later])
        assert reports[0] is not None
        assert reports[1:] == [None, None]
        assert (len(fake.fetches), len(fake.lists)) == (1, 1)

    def test_under_asyncio_fetches_and_look_ups_give_the_same_reports(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """The asyncio check makes the same fetch and list requests (through ``fetch_async``, ``list_async``) and
        gives the same reports as the sync one; a failing look-up stops it the same way."""
        fake.accept()
        sent = wire_message("fetched")
        (outcome,) = backend.publish([sent])
        fetched = attrs.evolve(sent, state=SMSState.SENDING, provider_ref=outcome.provider_ref)
        fake.drop()
        lost = _unknown(backend)
        fake.set_status(list(fake.messages)[-1], "delivered")

        async def check(messages: list[Any]) -> list[Outcome | None]:
            try:
                return await backend.abulk_check_sms_states(messages)
            finally:
                await backend.aclose()

        reports = asyncio.run(check([fetched, lost]))
        assert reports == backend.bulk_check_sms_states([fetched, lost])
        assert [r.state if r else None for r in reports] == [SMSState.SENDING, SMSState.DELIVERED]
        assert (len(fake.fetches), len(fake.lists)) == (2, 2)
        fake.fail_lists(503, 20503)
        assert asyncio.run(check([fetched, lost, fetched])) == [reports[0], None, None]

    def test_a_check_whose_only_answer_failed_raises_but_a_silent_answer_counts(
        self, fake: FakeTwilio, backend: TwilioSMSBackend
    ) -> None:
        """The list call failing first, with nothing answered: ProviderError. A look-up that answered "nothing
        yet" (within the grace period) counts as answered: a later failure then does not raise."""
        fake.fail(504, None, "Gateway Timeout")
        recent = _unknown(backend)
        fake.fail_lists(503, 20503)
        with pytest.raises(ProviderError, match="20503"):
            backend.bulk_check_sms_states([recent])
        fake.fail_lists(503, 20503, after=1)
        other = _unknown(backend, "Another text")
        assert backend.bulk_check_sms_states([recent, other]) == [None, None]
        assert len(fake.lists) == 3


class TestFakeListing:
    """The fake's list endpoint, read by the real client: paging, order and filters."""

    def test_pages_are_followed_newest_first(self, fake: FakeTwilio, http: Any) -> None:
        """Five messages, pages of two: three requests through next_page_uri, the newest first, filtered by To."""
        start = _now() - timedelta(minutes=10)
        sids = [
            fake.add_message("+420777123456", f"m{i}", from_=SENDER, date_created=start + timedelta(seconds=i))
            for i in range(5)
        ]
        fake.add_message("+420777000000", "elsewhere", from_=SENDER)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        listed = client.messages.list(to="+420777123456", page_size=2)
        assert [m.sid for m in listed] == sids[::-1]
        assert [r.query.get("Page") for r in fake.lists] == [None, ["1"], ["2"]]
        assert fake.lists[-1].response_json["next_page_uri"] is None
        assert client.messages.list(to="+420777123456", from_="+15005550001") == []

    def test_date_sent_filters_are_refused_not_ignored(self, fake: FakeTwilio, http: Any) -> None:
        """The fake does not implement ``DateSent``: it answers an error rather than an unfiltered list."""
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        with pytest.raises(TwilioException):
            client.messages.list(date_sent=datetime.now(UTC))


class TestStatusCallbacks:
    """Status callbacks pushed by Twilio, verified by signature."""

    def _signed(self, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
        return {"X-Twilio-Signature": RequestValidator(token).compute_signature(CALLBACK_URL, params)}

    def _params(self, sid: str, status: str, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": "+420777123456",
            "From": SENDER,
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def test_a_signed_callback_is_read(self, backend: TwilioSMSBackend) -> None:
        """A correctly signed report gives the sid and its outcome (headers in any case)."""
        params = self._params("SM" + "1" * 32, "undelivered", ErrorCode="30005")
        headers = {k.lower(): v for k, v in self._signed(params).items()}
        report = backend.parse_status_callback(CALLBACK_URL, params, headers)
        assert report.provider_ref == "SM" + "1" * 32
        assert (report.outcome.state, report.outcome.error_code) == (SMSState.ERROR, "30005")
        assert isinstance(backend, StatusCallbackReceiver)

    @pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}])
    def test_a_missing_or_wrong_signature_is_refused(self, backend: TwilioSMSBackend, headers: dict[str, str]) -> None:
        """No signature or a wrong one: InvalidSignatureError."""
        with pytest.raises(InvalidSignatureError):
            backend.parse_status_callback(CALLBACK_URL, self._params("SM1", "delivered"), headers)

    def test_a_signature_by_another_token_is_refused(self, backend: TwilioSMSBackend) -> None:
        """Signed with someone else's token: refused."""
        params = self._params("SM1", "delivered")
        with pytest.raises(InvalidSignatureError):
            backend.parse_status_callback(CALLBACK_URL, params, self._signed(params, token="other-token"))

    def test_another_account_or_a_malformed_report_is_refused(self, backend: TwilioSMSBackend) -> None:
        """Signed but for another account, or without a status: CallbackError."""
        other = self._params("SM1", "delivered", AccountSid="AC" + "f" * 32)
        with pytest.raises(CallbackError):
            backend.parse_status_callback(CALLBACK_URL, other, self._signed(other))
        partial = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM1"}
        with pytest.raises(CallbackError):
            backend.parse_status_callback(CALLBACK_URL, partial, self._signed(partial))

    def test_through_the_service(self, fake: FakeTwilio, http: Any) -> None:
        """service.handle_status_callback applies a verified report to the stored message."""
        service = smscore.build_service(
            {"provider": "twilio", "provider_options": _options(fake, http, status_callback=CALLBACK_URL)}
        )
        with service:
            message = service.send("+420777123456", "hello")
            params = self._params(message.provider_ref or "", "delivered")
            updated = service.handle_status_callback("default", CALLBACK_URL, params, self._signed(params))
        assert updated is not None
        assert updated.state is SMSState.DELIVERED
        assert fake.creates[0].field("StatusCallback") == CALLBACK_URL


class TestOptions:
    """Building from configuration options."""

    @pytest.mark.parametrize(
        ("options", "key"),
        [
            ({"account_sid": None}, "account_sid"),
            ({"account_sid": "ACnot-a-sid"}, "account_sid"),
            ({"auth_token": None}, "auth_token"),
            ({"auth_token": None, "api_key": API_KEY}, "api_secret"),
            ({"auth_token": None, "api_secret": "x"}, "api_key"),
            ({"from_": None}, "from_"),
            ({"messaging_service_sid": "MG123"}, "messaging_service_sid"),
            ({"status_callback": "ftp://example.com"}, "status_callback"),
            ({"validity_period": 0}, "validity_period"),
            ({"validity_period": 36001}, "validity_period"),
            ({"validity_period": "soon"}, "validity_period"),
            ({"http_client": object()}, "http_client"),
            ({"async_http_client": object()}, "async_http_client"),
            ({"http_client": None, "timeout": -1}, "timeout"),
            ({"form": SENDER}, "form"),
            ({"not_found_grace": -1}, "not_found_grace"),
            ({"not_found_grace": "soon"}, "not_found_grace"),
            ({"not_found_grace": True}, "not_found_grace"),
            ({"not_found_grace": float("inf")}, "not_found_grace"),
            ({"not_found_grace": float("nan")}, "not_found_grace"),
        ],
    )
    def test_a_bad_option_is_a_configuration_error_naming_it(self, options: dict[str, Any], key: str) -> None:
        """Each wrong or missing option is refused at build time, keyed by its name."""
        base = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": SENDER}
        merged = {k: v for k, v in {**base, **options}.items() if v is not None or k == "http_client"}
        with pytest.raises(ConfigurationError) as caught:
            TwilioSMSBackend.from_options(merged)
        assert caught.value.key == key

    @pytest.mark.parametrize(("value", "seconds"), [(None, 120), (0, 0), ("30", 30), (2.5, 2.5)])
    def test_not_found_grace(self, fake: FakeTwilio, http: Any, value: object, seconds: float) -> None:
        """``not_found_grace`` is 120 seconds unless given; zero and numeric strings are taken."""
        options = _options(fake, http) if value is None else _options(fake, http, not_found_grace=value)
        backend = TwilioSMSBackend.from_options(options)
        assert backend.not_found_grace == timedelta(seconds=seconds)

    @pytest.mark.parametrize("name", ["from", "sender", "from_number"])
    def test_the_sender_option_has_aliases(self, fake: FakeTwilio, http: Any, name: str) -> None:
        """``from``, ``sender`` and ``from_number`` name the sender too."""
        backend = TwilioSMSBackend.from_options(
            {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, name: "+15005550001", "http_client": http}
        )
        backend.publish([wire_message()])
        assert fake.creates[0].field("From") == "+15005550001"

    def test_the_default_client_is_built_and_closed(self) -> None:
        """Without an injected HTTP client one is built (with a timeout) and closed by close()."""
        backend = TwilioSMSBackend.from_options({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": SENDER})
        backend.close()
        assert "twilio-test-auth-token" not in repr(backend)

    def test_build_service_names_the_full_key(self) -> None:
        """Through the composition root the key is ``providers.NAME.options.OPTION``."""
        with pytest.raises(ConfigurationError) as caught:
            smscore.build_service({"provider": "twilio", "provider_options": {"account_sid": ACCOUNT_SID}})
        assert caught.value.key == "providers.default.options.auth_token"

    def test_twilio_environment_variables_are_not_credentials(
        self, fake: FakeTwilio, http: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """TWILIO_* variables do not stand in for missing options."""
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        with pytest.raises(ConfigurationError):
            TwilioSMSBackend.from_options({"from_": SENDER, "http_client": http})


class TestEndToEnd:
    """The backend chosen by configuration, through the service."""

    def test_send_through_build_service(self, fake: FakeTwilio, http: Any) -> None:
        """``{"provider": "twilio"}``: the message reaches the fake and is stored SENDING with the sid."""
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)})
        with service:
            message = service.send("+420 777 123 456", "Příliš žluťoučký kůň")
        assert message.state is SMSState.SENDING
        assert message.provider_ref == fake.creates[0].response_json["sid"]
        assert fake.creates[0].form["Body"] == ["Prilis zlutoucky kun"]
        assert message.extra_sender_data == {"twilio_status": "queued"}
        assert message.backend == "providers.twilio.TwilioSMSBackend"


class TestTranslation:
    """The pure translation functions are total."""

    def test_every_documented_status_is_mapped(self) -> None:
        """All thirteen statuses of twilio's MessageInstance.Status have an entry."""
        from twilio.rest.api.v2010.account.message import MessageInstance

        documented = {v for k, v in vars(MessageInstance.Status).items() if not k.startswith("_")}
        assert documented == set(STATUS_STATES)
        assert len(documented) == 13

    @given(status=st.one_of(st.none(), st.text()), code=st.one_of(st.none(), st.integers(), st.text()))
    def test_status_mapping_is_total(self, status: str | None, code: object) -> None:
        """Any status string (and any error code) gives an outcome that keeps the raw status."""
        outcome = status_outcome(status, sid="SM1", error_code=code, price="x", num_segments="y")
        assert outcome.extra_sender_data["twilio_status"] == ("" if status is None else status)
        expected = STATUS_STATES.get((status or "").strip().lower(), SMSState.UNKNOWN)
        assert outcome.state is expected
        assert outcome.price is None
        assert outcome.segments is None

    @given(http_status=st.one_of(st.none(), st.integers()), code=st.one_of(st.none(), st.integers()), text=st.text())
    def test_error_mapping_is_total(self, http_status: int | None, code: int | None, text: str) -> None:
        """Any HTTP status and Twilio code give a non-accepted outcome with a reason."""
        outcome = error_outcome(http_status, code, text)
        assert outcome.state in {SMSState.WAITING, SMSState.UNKNOWN, SMSState.ERROR}
        assert outcome.error

    @given(status=st.integers() | st.text(), code=st.none() | st.integers() | st.text(), msg=st.text())
    def test_rest_exception_translation_is_total(self, status: Any, code: Any, msg: str) -> None:
        """A TwilioRestException with any fields becomes an outcome."""
        outcome = exception_outcome(TwilioRestException(status, "/uri", msg, code))
        assert outcome.state in {SMSState.WAITING, SMSState.UNKNOWN, SMSState.ERROR}


class TestCredentialsNeverLeak:
    """A known auth token (and API secret) driven through every path: no outcome, repr or log record holds it,
    neither verbatim nor in its Basic-auth (base64) form."""

    @pytest.fixture
    def debug_logs(self, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
        caplog.set_level(logging.DEBUG)
        for name in ("twilio", "urllib3", "requests", "httpx", "httpcore", "providers", "smscore"):
            caplog.set_level(logging.DEBUG, logger=name)
        return caplog

    def _forbidden(self) -> list[str]:
        forms = []
        for user, secret in ((ACCOUNT_SID, AUTH_TOKEN), (API_KEY, API_SECRET)):
            forms += [secret, base64.b64encode(f"{user}:{secret}".encode()).decode()]
        return forms

    def _assert_clean(self, texts: list[str], caplog: pytest.LogCaptureFixture) -> None:
        assert any(r.name.startswith(("twilio", "httpx", "httpcore")) for r in caplog.records), "SDK logs not captured"
        everything = texts + [r.getMessage() for r in caplog.records] + [caplog.text]
        for form in self._forbidden():
            for text in everything:
                assert form not in text

    @pytest.mark.parametrize(
        "mode", ["rejected", "auth", "throttled", "unavailable", "gateway", "hang", "drop", "failed_status", "check"]
    )
    @pytest.mark.parametrize("auth", ["token", "api_key"])
    def test_every_failure_path(
        self, fake: FakeTwilio, http: Any, debug_logs: pytest.LogCaptureFixture, mode: str, auth: str
    ) -> None:
        """Every failure's outcome, the backend's repr and the DEBUG logs are free of the secrets."""
        options = _options(fake, http)
        if auth == "api_key":
            options.update(api_key=API_KEY, api_secret=API_SECRET)
        wrong = {"api_secret": "wrong-secret"} if auth == "api_key" else {"auth_token": "wrong-token"}
        if mode == "auth":
            options.update(wrong)
        backend = TwilioSMSBackend.from_options(options)
        {
            "rejected": lambda: fake.reject(400, 21211, "Invalid To"),
            "auth": lambda: None,
            "throttled": lambda: fake.fail(429, 20429, "Too Many Requests"),
            "unavailable": lambda: fake.fail(503, 20503, "Unavailable"),
            "gateway": lambda: fake.fail(504, None, "Gateway Timeout"),
            "hang": fake.hang,
            "drop": fake.drop,
            "failed_status": lambda: fake.accept(status="failed"),
            "check": fake.accept,
        }[mode]()
        (outcome,) = backend.publish([wire_message()])
        texts = [repr(outcome), str(outcome.error), json.dumps(dict(outcome.extra_sender_data)), repr(backend)]
        if mode == "check":
            fake.set_status(outcome.provider_ref or "", "undelivered", error_code=30007, error_message="Filtered")
            checked = attrs.evolve(wire_message(), provider_ref=outcome.provider_ref)
            texts.append(repr(backend.bulk_check_sms_states([checked])))
            refused = TwilioSMSBackend.from_options({**options, **wrong})
            with pytest.raises(ProviderError) as caught:
                refused.bulk_check_sms_states([checked])
            texts.append(str(caught.value))
        else:
            assert outcome.state is not SMSState.SENDING
        sent = fake.requests[0].headers["Authorization"]
        user, secret = (API_KEY, API_SECRET) if auth == "api_key" else (ACCOUNT_SID, AUTH_TOKEN)
        if mode != "auth":
            # The secret really went over the wire, so its absence from the logs means something.
            assert sent == "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        self._assert_clean(texts, debug_logs)

    @pytest.mark.parametrize("auth", ["token", "api_key"])
    def test_the_look_up_path(
        self, fake: FakeTwilio, http: Any, debug_logs: pytest.LogCaptureFixture, auth: str
    ) -> None:
        """A look-up found, not found, refused: outcomes, the ProviderError and the DEBUG logs hold no secret."""
        options = _options(fake, http, not_found_grace=0)
        wrong = {"auth_token": "wrong-token"}
        if auth == "api_key":
            options.update(api_key=API_KEY, api_secret=API_SECRET)
            wrong = {"api_secret": "wrong-secret"}
        backend = TwilioSMSBackend.from_options(options)
        fake.drop()
        found = _unknown(backend)
        fake.fail(504, None, "Gateway Timeout")
        missing = _unknown(backend, "never there", recipient="+420608999888")
        reports = backend.bulk_check_sms_states([found, missing])
        assert [r.state if r else None for r in reports] == [SMSState.SENDING, SMSState.WAITING]
        with pytest.raises(ProviderError) as caught:
            TwilioSMSBackend.from_options({**options, **wrong}).bulk_check_sms_states([found])
        self._assert_clean([repr(reports), str(caught.value)], debug_logs)

    def test_through_the_service(self, fake: FakeTwilio, http: Any, debug_logs: pytest.LogCaptureFixture) -> None:
        """Stored messages after failures through build_service hold no secret."""
        service = smscore.build_service({"provider": "twilio", "provider_options": _options(fake, http)})
        with service:
            fake.reject(400, 21610, "Attempt to send to unsubscribed recipient")
            rejected = service.send("+420777123456", "hi")
            fake.hang()
            ambiguous = service.send("+420777123456", "hi")
            texts = [repr(service.config), repr(service.providers["default"])]
            for message in (rejected, ambiguous):
                stored = service.messages.get(message.id or 0)
                texts += [repr(stored), json.dumps(dict(stored.extra_sender_data)), str(stored.error)]
        assert (rejected.state, ambiguous.state) == (SMSState.ERROR, SMSState.UNKNOWN)
        self._assert_clean(texts, debug_logs)
