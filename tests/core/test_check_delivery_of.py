"""Checking chosen messages now (``check_delivery_of``): only they are asked about, each one's fate reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from smscore import Outcome, SMSConfig, SMSMessage, SMSService, SMSState, StateChange
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider


class PublishOnly:
    """A provider that sends and cannot be asked about delivery."""

    max_batch_size = 100
    can_check_by_our_id = False

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        return [Outcome.accepted(SMSState.SENDING) for _ in messages]

    def close(self) -> None:
        """Holds nothing."""


class Unreachable(ScriptedProvider):
    """Accepts messages in SENDING; asking about delivery always fails."""

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        raise ConnectionError("the delivery report service is down")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def checking() -> ScriptedProvider:
    return ScriptedProvider(default_state=SMSState.SENDING)


@pytest.fixture
def service(clock: FixedClock, checking: ScriptedProvider, flavoured: Callable[[SMSService], Any]) -> SMSService:
    """The synchronous service, and its asyncio twin."""
    return flavoured(
        SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(clock=clock.now),
            providers={
                "default": checking,
                "plain": PublishOnly(),
                "down": Unreachable(default_state=SMSState.SENDING),
            },
            config=SMSConfig.from_mapping({"check_chunk_size": 2, "idle_timeout_minutes": 60}),
            clock=clock,
        )
    )


def send(service: SMSService, **options: Any) -> SMSMessage:
    return service.send("+420777123456", "Your parcel is on its way", **options)


class TestCheckDeliveryOf:
    def test_only_the_chosen_messages_are_asked_and_their_reports_stored(
        self, service: SMSService, checking: ScriptedProvider
    ) -> None:
        """Of three messages in flight with news for two, the two chosen ones are asked: the one with news is
        changed and stored, the other reported unchanged; the third is neither asked nor changed."""
        chosen, quiet, other = (send(service) for _ in range(3))
        for message in (chosen, other):
            checking.report(message.id or 0, Outcome.accepted(SMSState.DELIVERED))
        report = service.check_delivery_of([chosen.id or 0, quiet.id or 0])
        assert [m.id for m in checking.checked] == [chosen.id, quiet.id]
        [(before, after)] = report.changed
        assert (before.id, before.state, after.state) == (chosen.id, SMSState.SENDING, SMSState.DELIVERED)
        assert service.messages.get(chosen.id or 0) == after
        assert [m.id for m in report.unchanged] == [quiet.id]
        assert service.messages.get(other.id or 0).state is SMSState.SENDING
        assert (report.skipped, report.failed, report.missing) == ((), (), ())

    def test_messages_that_cannot_be_asked_about_are_skipped_with_the_reason(
        self, service: SMSService, checking: ScriptedProvider
    ) -> None:
        """Not sent yet, already final, a provider that cannot be asked, one no longer configured: each is
        skipped, says why, and is left as stored; an unknown id is reported missing."""
        waiting = send(service, send_immediately=False)
        checking.will(Outcome.accepted(SMSState.DELIVERED))
        delivered = send(service)
        plain = send(service, provider="plain")
        gone = service.messages.save(send(service).replace(provider="retired"))
        ids = [waiting.id or 0, delivered.id or 0, plain.id or 0, gone.id or 0, 987654]
        report = service.check_delivery_of(ids)
        assert [(m.id, reason) for m, reason in report.skipped] == [
            (waiting.id, "not sent yet"),
            (delivered.id, "already final (Delivered)"),
            (plain.id, "its provider 'plain' cannot be asked about delivery"),
            (gone.id, "its provider 'retired' is not configured"),
        ]
        assert report.missing == (987654,)
        assert checking.checked == []
        assert [service.messages.get(m.id or 0) for m, _ in report.skipped] == [m for m, _ in report.skipped]

    def test_a_provider_that_cannot_be_reached_leaves_its_messages_as_they_are(self, service: SMSService) -> None:
        """A failing request is reported per message; nothing changes and nothing raises."""
        message = send(service, provider="down")
        report = service.check_delivery_of([message.id or 0])
        assert [m.id for m in report.failed] == [message.id]
        assert service.messages.get(message.id or 0) == message

    def test_messages_are_asked_about_in_chunks_per_provider(
        self, service: SMSService, checking: ScriptedProvider
    ) -> None:
        """Five chosen messages with chunks of two: three requests, each id asked about once even when given
        twice."""
        sent = [send(service) for _ in range(5)]
        calls: list[int] = []
        original = checking.bulk_check_sms_states

        def counting(messages: Sequence[SMSMessage]) -> list[Outcome | None]:
            calls.append(len(messages))
            return original(messages)

        checking.bulk_check_sms_states = counting  # type: ignore[method-assign]
        report = service.check_delivery_of([m.id or 0 for m in sent + sent[:2]])
        assert calls == [2, 2, 1]
        assert len(report.unchanged) == 5

    def test_the_idle_timeout_and_other_messages_are_left_to_the_periodic_check(
        self, service: SMSService, clock: FixedClock
    ) -> None:
        """A message silent past the idle timeout is not failed by a check of other messages."""
        silent, chosen = send(service), send(service)
        clock.advance(minutes=61)
        service.check_delivery_of([chosen.id or 0])
        assert service.messages.get(silent.id or 0).state is SMSState.SENDING

    def test_subscribers_hear_of_each_change(self, service: SMSService, checking: ScriptedProvider) -> None:
        """A change a chosen check stores is announced like any other state change."""
        heard: list[StateChange] = []
        service.subscribe(heard.append)
        message = send(service)
        heard.clear()
        checking.report(message.id or 0, Outcome.accepted(SMSState.DELIVERED))
        service.check_delivery_of([message.id or 0])
        assert [(c.message_id, c.old_state, c.new_state) for c in heard] == [
            (message.id, SMSState.SENDING, SMSState.DELIVERED)
        ]
