"""Contract suite: scheduled sending, quiet hours and cancelling, run by the service on every message repository.

Subclass :class:`SchedulingContract` in an adapter's tests and provide a ``repo`` fixture returning a fresh, empty
:class:`~smscore.ports.MessageRepository`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from smscore import (
    InvalidSendTimeError,
    MessageNotCancellableError,
    SMSConfig,
    SMSMessage,
    SMSService,
    SMSState,
    StateChange,
)
from smscore.ports import MessageRepository
from smscore.testing import FixedClock, InMemoryTemplateRepository, ScriptedProvider

RECIPIENT = "+420777123456"
#: A Wednesday noon in Prague (11:00 UTC, winter time).
NOON = datetime(2030, 1, 2, 11, 0, tzinfo=UTC)


class ClaimedWhileCancelling:
    """A message repository on which a worker claims every due message right after a ``get``: the moment between a
    cancel's read and its write, where the race is."""

    def __init__(self, repo: MessageRepository, clock: FixedClock) -> None:
        self._repo = repo
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def get(self, message_id: int) -> SMSMessage:
        found = self._repo.get(message_id)
        now = self._clock.now()
        self._repo.claim(now=now, lease_until=now + timedelta(minutes=5), limit=100)
        return found


class SchedulingContract:
    """What scheduled sending and cancelling guarantee on any storage."""

    @pytest.fixture
    def repo(self) -> MessageRepository:
        raise NotImplementedError("an adapter's test class provides the repo fixture")

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock(NOON)

    def _service(self, repo: Any, clock: FixedClock, **config: Any) -> tuple[SMSService, ScriptedProvider]:
        provider = ScriptedProvider(default_state=SMSState.SENT)
        service = SMSService(
            messages=repo,
            templates=InMemoryTemplateRepository(),
            providers={"default": provider},
            config=SMSConfig.from_mapping(config),
            clock=clock,
        )
        return service, provider

    def test_a_scheduled_message_waits_and_is_published_when_due(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """Sent for later, a message is stored WAITING with its due time, even outside outbox mode; the outbox
        leaves it alone until the time comes, then publishes it."""
        service, provider = self._service(repo, clock)
        due = NOON + timedelta(hours=2)
        message = service.send(RECIPIENT, "Later", send_at=due.astimezone(timezone(timedelta(hours=1))))
        stored = repo.get(message.id or 0)
        assert stored.state is SMSState.WAITING
        assert stored.send_at == due
        assert stored.next_attempt_at == due
        assert stored.lease_expires_at is None
        clock.set(due - timedelta(seconds=1))
        assert service.process_outbox().claimed == 0
        clock.set(due)
        report = service.process_outbox()
        assert report.claimed == 1
        assert repo.get(message.id or 0).state is SMSState.SENT
        assert [m.id for m in provider.published] == [message.id]

    def test_a_time_in_the_past_means_now(self, repo: MessageRepository, clock: FixedClock) -> None:
        """A send time already gone sends at once (outside outbox mode) and records now as its time."""
        service, _ = self._service(repo, clock)
        message = service.send(RECIPIENT, "Late", send_at=NOON - timedelta(days=3))
        assert message.state is SMSState.SENT
        assert repo.get(message.id or 0).send_at == NOON

    def test_a_naive_send_time_is_refused_and_nothing_is_stored(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """A send time without a time zone raises InvalidSendTimeError (a ValueError) from every sending call."""
        service, provider = self._service(repo, clock)
        naive = datetime(2030, 1, 2, 15, 0)
        with pytest.raises(InvalidSendTimeError):
            service.send(RECIPIENT, "x", send_at=naive)
        with pytest.raises(InvalidSendTimeError, match="item 1"):
            service.send_many([RECIPIENT, {"recipient": RECIPIENT, "send_at": naive}], "x")
        with pytest.raises(ValueError, match="datetime"):
            service.send(RECIPIENT, "x", send_at="2030-01-02T15:00+01:00")  # type: ignore[arg-type]
        with pytest.raises(InvalidSendTimeError, match="before the year 9001"):
            service.send(RECIPIENT, "x", send_at=datetime.max.replace(tzinfo=UTC), tag="t")
        assert repo.count() == 0
        assert provider.published == []

    def test_send_many_publishes_the_due_items_and_keeps_the_scheduled_ones(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """Items with a later send time wait; the others of the same call are published at once."""
        service, provider = self._service(repo, clock)
        later = NOON + timedelta(hours=1)
        sent = service.send_many([RECIPIENT, {"recipient": "+420777000002", "send_at": later}, "+420777000003"], "Hi")
        assert [m.state for m in sent] == [SMSState.SENT, SMSState.WAITING, SMSState.SENT]
        assert sent[1].send_at == later
        assert len(provider.published) == 2

    def test_the_outbox_publishes_by_priority_then_due_time(self, repo: MessageRepository, clock: FixedClock) -> None:
        """Of the messages due, the highest priority goes first and, within a priority, the one due earliest,
        whatever the order they were stored in; none goes before its time."""
        service, provider = self._service(repo, clock, batch_sending=True)
        ids = {}
        for name, minutes, priority in [("c", 30, 3), ("a", 10, 3), ("p", 50, 1), ("b", 20, 3), ("never", 600, 1)]:
            message = service.send(RECIPIENT, name, priority=priority, send_at=NOON + timedelta(minutes=minutes))
            ids[message.id] = name
        clock.set(NOON + timedelta(hours=1))
        for _ in range(5):
            service.process_outbox(limit=1)
        assert [ids[m.id] for m in provider.published] == ["p", "a", "b", "c"]

    def test_quiet_hours_defer_a_message_and_record_why(self, repo: MessageRepository, clock: FixedClock) -> None:
        """A marketing message due at 22:00 in Prague waits for 09:00 the next morning there; the message records
        the time and the reason; other tags go at once."""
        service, _ = self._service(repo, clock, quiet_hours={"marketing": {"allowed": "09:00-20:00"}})
        evening = datetime(2030, 1, 2, 21, 0, tzinfo=UTC)  # 22:00 in Prague
        clock.set(evening)
        deferred = service.send(RECIPIENT, "Sale!", tag="marketing")
        other = service.send(RECIPIENT, "Your code", tag="otp")
        stored = repo.get(deferred.id or 0)
        assert stored.state is SMSState.WAITING
        assert stored.send_at == stored.next_attempt_at == datetime(2030, 1, 3, 8, 0, tzinfo=UTC)
        assert stored.deferred_reason is not None
        assert "Europe/Prague" in stored.deferred_reason
        assert other.state is SMSState.SENT
        clock.set(datetime(2030, 1, 3, 8, 0, tzinfo=UTC))
        service.process_outbox()
        assert repo.get(deferred.id or 0).state is SMSState.SENT

    def test_a_worker_reaching_a_message_in_its_quiet_hours_puts_it_back_for_the_next_start(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """Queued at noon (allowed), a marketing message a worker only reaches at 22:00 in Prague is not sent then:
        it waits, unleased, for 09:00 the next morning there, with the reason recorded; then it goes."""
        service, provider = self._service(
            repo, clock, batch_sending=True, quiet_hours={"marketing": {"allowed": "09:00-20:00"}}
        )
        queued = service.send(RECIPIENT, "Sale!", tag="marketing")
        assert queued.state is SMSState.WAITING
        clock.set(datetime(2030, 1, 2, 21, 0, tzinfo=UTC))  # 22:00 in Prague
        report = service.process_outbox()
        assert report.claimed == 1
        assert provider.published == []
        held = repo.get(queued.id or 0)
        assert (held.state, held.lease_expires_at) == (SMSState.WAITING, None)
        assert held.next_attempt_at == held.send_at == datetime(2030, 1, 3, 8, 0, tzinfo=UTC)
        assert "quiet hours" in (held.deferred_reason or "")
        assert service.process_outbox().claimed == 0
        clock.set(datetime(2030, 1, 3, 8, 0, tzinfo=UTC))
        service.process_outbox()
        assert repo.get(queued.id or 0).state is SMSState.SENT

    def test_cancel_stops_a_waiting_message_and_tells_subscribers(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """A scheduled message cancelled ends in ERROR "cancelled", is never published, and subscribers hear of
        the move; cancelling it again is refused with the state it is in."""
        service, provider = self._service(repo, clock)
        heard: list[StateChange] = []
        service.subscribe(heard.append)
        message = service.send(RECIPIENT, "Later", send_at=NOON + timedelta(hours=1))
        cancelled = service.cancel(message.id or 0)
        assert cancelled.state is SMSState.ERROR
        assert cancelled.error == "cancelled"
        assert repo.get(message.id or 0) == cancelled
        assert (heard[-1].old_state, heard[-1].new_state, heard[-1].error) == (
            SMSState.WAITING,
            SMSState.ERROR,
            "cancelled",
        )
        clock.advance(hours=2)
        assert service.process_outbox().claimed == 0
        assert provider.published == []
        with pytest.raises(MessageNotCancellableError) as info:
            service.cancel(message.id or 0)
        assert info.value.state is SMSState.ERROR

    def test_a_sent_message_cannot_be_cancelled(self, repo: MessageRepository, clock: FixedClock) -> None:
        """Once published, a message is not WAITING any more: cancelling it raises and changes nothing."""
        service, _ = self._service(repo, clock)
        message = service.send(RECIPIENT, "Now")
        with pytest.raises(MessageNotCancellableError, match="SENT"):
            service.cancel(message.id or 0)
        assert repo.get(message.id or 0) == message

    def test_a_cancel_that_loses_to_a_claim_raises_and_the_message_is_published(
        self, repo: MessageRepository, clock: FixedClock
    ) -> None:
        """A worker claims the message between the cancel's read and its write: the cancel's compare-and-set fails,
        it reads again, finds the message held and raises; the worker publishes it. Exactly one wins."""
        racing = ClaimedWhileCancelling(repo, clock)
        service, _ = self._service(racing, clock, batch_sending=True)
        message = service.send(RECIPIENT, "Now")
        with pytest.raises(MessageNotCancellableError, match="publishing"):
            service.cancel(message.id or 0)
        held = repo.get(message.id or 0)
        assert held.state is SMSState.WAITING
        assert held.lease_expires_at is not None

    def test_a_claim_that_loses_to_a_cancel_takes_nothing(self, repo: MessageRepository, clock: FixedClock) -> None:
        """Cancelled first, a due message is never claimed."""
        service, provider = self._service(repo, clock, batch_sending=True)
        message = service.send(RECIPIENT, "Now")
        service.cancel(message.id or 0)
        assert repo.claim(now=NOON, lease_until=NOON + timedelta(minutes=5), limit=10) == []
        assert provider.published == []
