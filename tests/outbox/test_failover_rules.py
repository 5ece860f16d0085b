"""The rules the outage scenarios rest on, pinned on the in-memory fakes with a fixed clock: a message that no
provider took keeps its own route, and a turn skipped because every circuit is open is not an attempt."""

from __future__ import annotations

from typing import Any

import pytest

from smscore import Outcome, SMSConfig, SMSService, SMSState
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from tests.async_twin import under_test

NUMBER = "+420777123456"

pytestmark = pytest.mark.usefixtures("both_services")


class Pair:
    """An outbox service routing to ``main`` with ``backup`` as its failover; both circuits open at 1 failure."""

    def __init__(self, failover: tuple[str, ...] = ("backup",), **config: Any) -> None:
        self.clock = FixedClock()
        self.main, self.backup = ScriptedProvider(), ScriptedProvider()
        self.service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"main": self.main, "backup": self.backup},
            config=SMSConfig.from_mapping(
                {
                    "providers": {"main": {"backend": "dummy"}, "backup": {"backend": "dummy"}},
                    "default_provider": "main",
                    "failover": list(failover),
                    "batch_sending": True,
                    "max_attempts": 10,
                    "retry_backoff_seconds": 1,
                    "circuit_breaker_threshold": 1,
                    "circuit_breaker_cooldown_seconds": 30,
                    **config,
                }
            ),
            clock=self.clock,
        )
        self.service = under_test(self.service)

    def both_down_once(self) -> int:
        """Queue a message and publish it while both providers answer 503; return its id."""
        message = self.service.send(NUMBER, "x")
        self.main.will(Outcome.transient("HTTP 503"))
        self.backup.will(Outcome.transient("HTTP 503"))
        self.service.process_outbox()
        return message.id or 0


class TestRouteOfAMessageNoProviderTook:
    def test_it_stays_routed_to_its_own_provider(self) -> None:
        """Both answered 503: the message is WAITING, still main's, one attempt counted."""
        pair = Pair()
        stored = pair.service.messages.get(pair.both_down_once())
        assert (stored.state, stored.provider, stored.attempts) == (SMSState.WAITING, "main", 1)

    def test_it_leaves_through_its_own_provider_when_that_recovers_and_the_failover_does_not(self) -> None:
        """After the cool-down main is back and backup still down: the message goes out through main."""
        pair = Pair()
        message_id = pair.both_down_once()
        pair.clock.advance(seconds=31)
        pair.backup.will(Outcome.transient("HTTP 503"))
        pair.service.process_outbox()
        stored = pair.service.messages.get(message_id)
        assert (stored.state, stored.provider, stored.attempts) == (SMSState.SENT, "main", 2)
        assert [m.id for m in pair.main.published] == [message_id, message_id]

    def test_a_failover_that_takes_it_is_recorded(self) -> None:
        """main down, backup up: the message is backup's (unchanged rule, for contrast)."""
        pair = Pair()
        pair.service.send(NUMBER, "x")
        pair.main.will(Outcome.transient("HTTP 503"))
        pair.service.process_outbox()
        [stored] = pair.service.messages.find()
        assert (stored.state, stored.provider, stored.attempts) == (SMSState.SENT, "backup", 1)


class TestTurnsSkippedByOpenCircuits:
    def test_a_skipped_turn_is_not_an_attempt_and_waits_for_the_first_cool_down(self) -> None:
        """Both circuits open: the due message is not offered to anyone, keeps its attempts, and is due again when
        the first circuit's cool-down ends."""
        pair = Pair()
        message_id = pair.both_down_once()
        opened = pair.clock.now()
        pair.clock.advance(seconds=5)
        report = pair.service.process_outbox()
        stored = pair.service.messages.get(message_id)
        assert report.claimed == 1
        assert (stored.state, stored.attempts, stored.lease_expires_at) == (SMSState.WAITING, 1, None)
        assert stored.next_attempt_at is not None
        assert (stored.next_attempt_at - opened).total_seconds() == pytest.approx(30, abs=1)
        assert "skipped" in (stored.error or "")
        assert len(pair.main.published) == len(pair.backup.published) == 1

    def test_a_single_provider_s_open_circuit_does_not_use_up_attempts(self) -> None:
        """One provider, max_attempts 2: ten turns skipped while its circuit is open cost nothing; the message
        goes out at its second real attempt."""
        pair = Pair(failover=(), max_attempts=2)
        message_id = pair.both_down_once()
        for _ in range(10):
            pair.clock.advance(seconds=2)
            pair.service.process_outbox()
        assert pair.service.messages.get(message_id).attempts == 1
        pair.clock.advance(seconds=30)
        pair.service.process_outbox()
        stored = pair.service.messages.get(message_id)
        assert (stored.state, stored.attempts) == (SMSState.SENT, 2)
        assert len(pair.main.published) == 2

    def test_a_turn_skipped_past_the_send_deadline_is_an_error(self) -> None:
        """The cool-down ends after the message's send deadline: it fails now, saying why."""
        pair = Pair(max_seconds_to_send=20)
        message_id = pair.both_down_once()
        pair.clock.advance(seconds=5)
        pair.service.process_outbox()
        stored = pair.service.messages.get(message_id)
        assert stored.state is SMSState.ERROR
        assert "send deadline" in (stored.error or "")
        assert "skipped" in (stored.error or "")
        assert stored.attempts == 1
