"""Contract suite for the provider port, run against every provider.

Subclass :class:`ProviderContract` and provide a ``harness`` fixture: an object implementing
:class:`ProviderHarness`, wrapping the provider under test and the peer it talks to (a loopback fake gateway,
moto, a fake HTTP layer under the real SDK). The peer is told how to behave for the next request; what reached
it is read back, so the tests assert what went over the wire, not which functions were called.

Every case runs twice, through the ``driver`` fixture: once with the provider's sync methods (``publish``,
``bulk_check_sms_states``, ``close``), once with its asyncio roles (:mod:`smscore.async_ports`: ``apublish``,
``abulk_check_sms_states``, ``aclose``) on one event loop kept for the whole test, so the asserts are the same
for both. A provider without the asyncio roles skips the second run (the asyncio service runs it in threads).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import attrs
import pytest

from smscore import DeliveryChecker, Outcome, SMSMessage, SMSProvider, SMSState
from smscore.async_ports import AsyncDeliveryChecker, AsyncPublisher
from smscore.text import count_segments, detect_encoding

_T = TypeVar("_T")

ACCEPTED = {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED, SMSState.DEBUG}
_ids = itertools.count(1000)


def wire_message(content: str = "Hello", recipient: str = "+420777123456", **changes: object) -> SMSMessage:
    """A stored-looking message (with an id) ready to publish."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    encoding = detect_encoding(content)
    fields: dict[str, object] = {
        "id": next(_ids),
        "recipient": recipient,
        "content": content,
        "created_at": now,
        "changed_at": now,
        "encoding": encoding,
        "segments": count_segments(content, encoding),
    }
    fields.update(changes)
    return SMSMessage(**fields)  # type: ignore[arg-type]


class ProviderHarness(Protocol):
    """A provider and the peer it talks to."""

    provider: SMSProvider

    def peer_accepts(self) -> None:
        """The peer accepts every message of the next request."""

    def peer_rejects(self) -> None:
        """The peer refuses the messages of the next request for good (invalid number, say)."""

    def peer_fails_transiently(self) -> None:
        """The peer is unavailable for the next request (HTTP 503, throttling) before accepting anything."""

    def peer_times_out_after_receiving(self) -> None:
        """The peer receives the next request but the answer never arrives in time."""

    def peer_holds_the_request(self) -> None:
        """The peer takes the next request (it shows in :meth:`received`) and holds its answer back, longer than
        the provider waits for it; skip when the peer cannot."""

    def received(self) -> list[tuple[str, str]]:
        """(recipient, text) of every message that reached the peer, in order."""


class SyncDriver:
    """Calls the provider's sync methods."""

    is_async = False

    def publish(self, provider: SMSProvider, messages: Sequence[SMSMessage]) -> list[Outcome]:
        return provider.publish(messages)

    def check(self, provider: DeliveryChecker, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        return provider.bulk_check_sms_states(messages)

    def close(self, provider: SMSProvider) -> None:
        provider.close()


class AsyncDriver:
    """Calls the provider's asyncio roles on one event loop, kept until :meth:`finish` (which closes, with
    ``aclose``, every provider it called); skips the test for a provider without them."""

    is_async = True

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self._used: list[AsyncPublisher] = []

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` to its end on the driver's loop."""
        return self.runner.run(coroutine)

    def asyncio_role(self, provider: object) -> AsyncPublisher:
        """``provider`` as an :class:`~smscore.async_ports.AsyncPublisher` (skipping the test when it is not)."""
        if not isinstance(provider, AsyncPublisher):
            pytest.skip(f"{type(provider).__name__} has no asyncio role: the asyncio service runs it in threads")
        if provider not in self._used:
            self._used.append(provider)
        return provider

    def publish(self, provider: SMSProvider, messages: Sequence[SMSMessage]) -> list[Outcome]:
        return self.run(self.asyncio_role(provider).apublish(messages))

    def check(self, provider: DeliveryChecker, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        publisher = self.asyncio_role(provider)
        assert isinstance(publisher, AsyncDeliveryChecker), "a delivery checker with asyncio roles checks in them"
        return self.run(publisher.abulk_check_sms_states(messages))

    def close(self, provider: SMSProvider) -> None:
        self.run(self.asyncio_role(provider).aclose())

    def finish(self) -> None:
        """Close every provider used (``aclose``) and the loop."""
        try:
            for provider in self._used:
                self.run(provider.aclose())
        finally:
            self.runner.close()


Driver = SyncDriver | AsyncDriver


class ProviderContract:
    """Behaviour every provider must have, through its sync methods and its asyncio roles."""

    @pytest.fixture
    def harness(self) -> ProviderHarness:
        raise NotImplementedError("a provider's test class provides the harness fixture")

    @pytest.fixture(params=["sync", "asyncio"])
    def driver(self, request: pytest.FixtureRequest) -> Iterator[Driver]:
        if request.param == "sync":
            yield SyncDriver()
            return
        driver = AsyncDriver()
        try:
            yield driver
        finally:
            driver.finish()

    def test_an_accepted_message_gets_an_accepted_state(self, harness: ProviderHarness, driver: Driver) -> None:
        """The peer accepts: one outcome, in an accepted state, without error."""
        harness.peer_accepts()
        (outcome,) = driver.publish(harness.provider, [wire_message()])
        assert isinstance(outcome, Outcome)
        assert outcome.state in ACCEPTED
        assert outcome.error is None
        assert harness.received() == [("+420777123456", "Hello")]

    def test_a_rejected_message_is_an_error_with_a_reason(self, harness: ProviderHarness, driver: Driver) -> None:
        """The peer refuses: ERROR with a reason, never an exception."""
        harness.peer_rejects()
        (outcome,) = driver.publish(harness.provider, [wire_message()])
        assert outcome.state is SMSState.ERROR
        assert outcome.error

    def test_a_transient_outage_is_retryable(self, harness: ProviderHarness, driver: Driver) -> None:
        """The peer is unavailable: WAITING (to be retried), never an exception."""
        harness.peer_fails_transiently()
        (outcome,) = driver.publish(harness.provider, [wire_message()])
        assert outcome.state is SMSState.WAITING
        assert outcome.error

    def test_a_timeout_after_the_request_left_is_ambiguous(self, harness: ProviderHarness, driver: Driver) -> None:
        """The answer never comes: UNKNOWN, so the message is never re-sent blindly."""
        harness.peer_times_out_after_receiving()
        (outcome,) = driver.publish(harness.provider, [wire_message()])
        assert outcome.state is SMSState.UNKNOWN
        assert outcome.error

    @pytest.mark.parametrize(
        "text",
        [
            "Plain GSM text @£$¥ with {extension} [chars] ~ | ^ € \\",
            "Příliš žluťoučký kůň úpěl ďábelské ódy",
            "Emoji 🎉 and 漢字 and Кириллица",
            "XML-hostile <b>&amp;</b> \"quotes\" 'apostrophes' & ampersands",
            "x" * 459,
        ],
    )
    def test_bodies_reach_the_wire_unchanged(self, harness: ProviderHarness, driver: Driver, text: str) -> None:
        """GSM-7 and unicode bodies arrive at the peer exactly as given."""
        harness.peer_accepts()
        (outcome,) = driver.publish(harness.provider, [wire_message(text)])
        assert outcome.state in ACCEPTED
        assert harness.received() == [("+420777123456", text)]

    def test_close_can_be_repeated(self, harness: ProviderHarness, driver: Driver) -> None:
        """``close`` (``aclose``) is part of the port: it releases the provider's resources, and a second call does
        nothing."""
        assert isinstance(harness.provider, SMSProvider)
        driver.close(harness.provider)
        driver.close(harness.provider)

    def test_a_batch_gets_one_outcome_per_message_in_order(self, harness: ProviderHarness, driver: Driver) -> None:
        """Many messages: as many outcomes, in order, every message delivered to the peer."""
        harness.peer_accepts()
        size = min(25, harness.provider.max_batch_size)
        messages = [wire_message(f"message {i}", recipient=f"+42077712{i:04d}") for i in range(size)]
        outcomes = driver.publish(harness.provider, messages)
        assert len(outcomes) == size
        assert all(o.state in ACCEPTED for o in outcomes)
        assert sorted(harness.received()) == sorted((m.recipient, m.content) for m in messages)
        refs = [o.provider_ref for o in outcomes]
        assert None not in refs
        assert len(set(refs)) == size

    def test_a_check_answers_once_per_message_in_order(self, harness: ProviderHarness, driver: Driver) -> None:
        """A delivery checker asked about messages it published: one report (or None) per message, in order."""
        if not isinstance(harness.provider, DeliveryChecker):
            pytest.skip(f"{type(harness.provider).__name__} checks no delivery")
        harness.peer_accepts()
        messages = [wire_message(f"check {i}", recipient=f"+42077713{i:04d}") for i in range(3)]
        outcomes = driver.publish(harness.provider, messages)
        published = [
            attrs.evolve(message, state=outcome.state, provider_ref=outcome.provider_ref)
            for message, outcome in zip(messages, outcomes, strict=True)
        ]
        reports = driver.check(harness.provider, published)
        assert len(reports) == len(messages)
        assert all(report is None or isinstance(report, Outcome) for report in reports)

    def test_cancelling_a_held_request_propagates_and_leaks_nothing(
        self, harness: ProviderHarness, driver: Driver
    ) -> None:
        """The task is cancelled while the peer holds its request: ``CancelledError`` propagates (it is no
        outcome), the provider closes cleanly, and it publishes again afterwards."""
        if not isinstance(driver, AsyncDriver):
            pytest.skip("only a task can be cancelled")
        provider = driver.asyncio_role(harness.provider)
        harness.peer_holds_the_request()

        async def cancel_while_held() -> None:
            task = asyncio.create_task(provider.apublish([wire_message("held")]))
            for _ in range(400):
                if harness.received() or task.done():
                    break
                await asyncio.sleep(0.005)
            assert not task.done(), "the peer was to hold the request"
            assert harness.received() == [("+420777123456", "held")]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await provider.aclose()

        driver.run(cancel_while_held())
        harness.peer_accepts()
        (outcome,) = driver.publish(harness.provider, [wire_message("after")])
        assert outcome.state in ACCEPTED
