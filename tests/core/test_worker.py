"""The outbox worker and the per-message publish, on the in-memory fakes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import pytest

from smscore import MessageNotFoundError, Outcome, SMSConfig, SMSMessage, SMSService, SMSState
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from smscore.worker import Worker


def outbox_service(provider: ScriptedProvider, clock: FixedClock | None = None, **config: object) -> SMSService:
    return SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": provider},
        config=SMSConfig.from_mapping({"batch_sending": True, **config}),
        clock=clock or FixedClock(),
    )


class TestWorker:
    def test_four_threads_drain_the_outbox_sending_each_message_once(self) -> None:
        """1,000 queued messages, four threads: every message published exactly once, none left WAITING."""
        provider = ScriptedProvider(max_batch_size=50)
        service = outbox_service(provider, batch_size=25)
        queued = service.send_many([f"+4207771{i:05d}" for i in range(1000)], "x")
        stats = Worker(service, concurrency=4, idle_seconds=0.01).run(once=True)
        counts = Counter(m.id for m in provider.published)
        assert set(counts) == {m.id for m in queued}
        assert set(counts.values()) == {1}
        assert service.messages.count(SMSState.WAITING) == 0
        assert stats.claimed == 1000
        assert stats.states == {SMSState.SENT: 1000}

    def test_stop_finishes_the_batch_in_hand(self) -> None:
        """stop() during a publish: that batch is published and stored, nothing more is claimed."""
        started, release = threading.Event(), threading.Event()

        class Slow(ScriptedProvider):
            def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
                started.set()
                release.wait(5)
                return super().publish(messages)

        provider = Slow()
        service = outbox_service(provider, batch_size=10)
        service.send_many([f"+4207771{i:05d}" for i in range(30)], "x")
        worker = Worker(service, idle_seconds=0.01)
        runner = threading.Thread(target=worker.run)
        runner.start()
        assert started.wait(5)
        worker.stop()
        release.set()
        runner.join(5)
        assert not runner.is_alive()
        assert len(provider.published) == 10
        assert service.messages.count(SMSState.SENT) == 10
        assert service.messages.count(SMSState.WAITING) == 20
        assert service.messages.find_expired_leases(now=FixedClock().advance(days=1), limit=100) == []

    def test_a_failing_step_is_logged_and_the_worker_goes_on(self, caplog: pytest.LogCaptureFixture) -> None:
        """A storage hiccup in one step does not kill the worker."""
        provider = ScriptedProvider()
        service = outbox_service(provider)
        service.send("+420777123456", "x")
        calls = {"n": 0}
        original = service.messages.claim

        def flaky(**kwargs: object) -> list[SMSMessage]:
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionError("database restarting")
            return original(**kwargs)  # type: ignore[arg-type]

        service.messages.claim = flaky  # type: ignore[method-assign]
        worker = Worker(service, idle_seconds=0.01)
        runner = threading.Thread(target=worker.run)
        runner.start()
        for _ in range(500):
            if service.messages.count(SMSState.SENT) == 1:
                break
            threading.Event().wait(0.01)
        worker.stop()
        runner.join(5)
        assert service.messages.count(SMSState.SENT) == 1
        assert "outbox step failed" in caplog.text


class TestPublishWaiting:
    def test_two_tasks_for_one_message_send_it_once(self) -> None:
        """The per-message task claims with compare-and-set: racing tasks publish once."""
        provider = ScriptedProvider()
        service = outbox_service(provider)
        message = service.send("+420777123456", "x")
        barrier = threading.Barrier(6)
        results: list[SMSMessage] = []

        def task() -> None:
            barrier.wait()
            results.append(service.publish_waiting(message.id or 0))

        threads = [threading.Thread(target=task) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(provider.published) == 1
        assert service.messages.get(message.id or 0).state is SMSState.SENT

    def test_a_message_not_due_or_not_waiting_is_left_alone(self) -> None:
        """Already sent, or retry not yet due: returned untouched, nothing published."""
        provider = ScriptedProvider()
        clock = FixedClock()
        service = outbox_service(provider, clock, max_attempts=5)
        provider.will(Outcome.transient("503"))
        message = service.send("+420777123456", "x", send_immediately=True)
        assert service.publish_waiting(message.id or 0) == message
        clock.advance(hours=2)
        assert service.publish_waiting(message.id or 0).state is SMSState.SENT
        assert len(provider.published) == 2
        with pytest.raises(MessageNotFoundError):
            service.publish_waiting(424242)
