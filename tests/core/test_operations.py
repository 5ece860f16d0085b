"""What the operators' use cases report: per-provider failures of a delivery check and an outbox step, the work
a delivery check has ahead, and what a purge would delete."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smscore import Outcome, SMSConfig, SMSService, SMSState
from smscore.service import ProviderFailures
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider

RECIPIENT = "+420777123456"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def _service(clock: FixedClock, providers: dict[str, Any], **config: Any) -> SMSService:
    return SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(clock=clock.now),
        providers=providers,
        config=SMSConfig.from_mapping(config),
        clock=clock,
    )


class TestDeliveryCheck:
    def test_failures_are_reported_per_provider_with_the_last_error(self, clock: FixedClock) -> None:
        """The provider whose requests fail is named with its messages and error; the other has no entry."""
        good, bad = ScriptedProvider(default_state=SMSState.SENDING), ScriptedProvider(default_state=SMSState.SENDING)

        def explode(messages: Any) -> list[Outcome | None]:
            raise ConnectionError("down")

        bad.bulk_check_sms_states = explode  # type: ignore[method-assign]
        service = _service(clock, {"default": good, "bad": bad}, check_chunk_size=2)
        service.send_many([RECIPIENT] * 3, "x", provider="bad")
        service.send(RECIPIENT, "x")
        report = service.check_delivery()
        assert report.failed_chunks == 2
        assert report.failures == {"bad": ProviderFailures(messages=3, last_error="ConnectionError: down")}

    def test_pending_checks_are_what_the_check_then_asks_about(self, clock: FixedClock) -> None:
        """SENDING and recently SENT messages of checking providers count; SENT before the idle timeout does not."""
        provider = ScriptedProvider(default_state=SMSState.SENT)
        service = _service(clock, {"default": provider}, idle_timeout_minutes=60)
        service.send(RECIPIENT, "long ago")
        clock.advance(hours=2)
        service.send_many([RECIPIENT] * 3, "recent")
        assert service.pending_delivery_checks() == 3
        done: list[int] = []
        report = service.check_delivery(progress=done.append)
        assert report.checked == sum(done) == 3


class TestOutbox:
    def test_messages_a_provider_did_not_take_are_reported_per_provider(self, clock: FixedClock) -> None:
        """A transient answer leaves the message WAITING for a retry; the step names the provider and why."""
        provider = ScriptedProvider()
        service = _service(clock, {"default": provider}, batch_sending=True)
        service.send_many([RECIPIENT] * 3, "x")
        provider.will(Outcome.transient("gateway not reached"), Outcome.accepted(SMSState.SENT))
        report = service.process_outbox()
        assert report.states == {SMSState.WAITING: 1, SMSState.SENT: 2}
        assert report.failures == {"default": ProviderFailures(messages=1, last_error="gateway not reached")}

    def test_a_clean_step_reports_no_failures(self, clock: FixedClock) -> None:
        """Everything taken: no failures."""
        service = _service(clock, {"default": ScriptedProvider()}, batch_sending=True)
        service.send(RECIPIENT, "x")
        assert service.process_outbox().failures == {}


class TestRetention:
    def test_purgeable_counts_per_state_and_deletes_nothing(self, clock: FixedClock) -> None:
        """What purge would delete, per state; purge then deletes exactly that, reporting each batch."""
        provider = ScriptedProvider()
        service = _service(clock, {"default": provider})
        service.send_many([RECIPIENT] * 3, "sent")
        provider.will(Outcome.rejected("no such number"))
        service.send(RECIPIENT, "refused")
        clock.advance(days=100)
        service.send(RECIPIENT, "recent")
        assert service.purgeable(timedelta(days=90)) == {SMSState.SENT: 3, SMSState.ERROR: 1}
        assert service.messages.count() == 5
        batches: list[int] = []
        assert service.purge(timedelta(days=90), batch_size=3, progress=batches.append) == 4
        assert batches == [3, 1]
        assert service.purgeable(timedelta(days=90)) == {}
