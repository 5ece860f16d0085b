"""The asyncio outbox worker on the in-memory fakes: the threaded worker's decisions on an event loop, and the
second stop signal that cancels the step in hand."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Sequence

import pytest

from smscore import AsyncSMSService, Outcome, SMSConfig, SMSMessage, SMSState
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from smscore.worker import AsyncWorker

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class HeldProvider(ScriptedProvider):
    """Publishes on the event loop, one message per request, each request held until :attr:`gate` opens."""

    def __init__(self) -> None:
        super().__init__(max_batch_size=1)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        self.entered.set()
        await self.gate.wait()
        return self.publish(messages)

    async def aclose(self) -> None:
        """Nothing to release."""


def outbox_service(provider: ScriptedProvider, **config: object) -> AsyncSMSService:
    return AsyncSMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": provider},
        config=SMSConfig.from_mapping({"batch_sending": True, **config}),
        clock=FixedClock(),
    )


def recipients(count: int) -> list[str]:
    return [f"+4207771{i:05d}" for i in range(count)]


async def test_four_tasks_drain_the_outbox_sending_each_message_once() -> None:
    """1,000 queued messages, four tasks: every message published exactly once, none left WAITING."""
    provider = HeldProvider()
    provider.gate.set()
    service = outbox_service(provider, batch_size=25)
    queued = await service.send_many(recipients(1000), "x")
    stats = await AsyncWorker(service, concurrency=4, idle_seconds=0.01).run(once=True)
    counts = Counter(m.id for m in provider.published)
    assert set(counts) == {m.id for m in queued}
    assert set(counts.values()) == {1}
    assert service.messages.count(SMSState.WAITING) == 0
    assert (stats.claimed, stats.states) == (1000, {SMSState.SENT: 1000})


async def test_stop_finishes_the_batch_in_hand_and_ends_the_idle_wait() -> None:
    """stop() while a step's ten requests are held: the ten are published and stored, nothing more is claimed,
    and the other task, idle for an hour, ends at once."""
    provider = HeldProvider()
    service = outbox_service(provider, batch_size=10)
    await service.send_many(recipients(30), "x")
    worker = AsyncWorker(service, concurrency=2, idle_seconds=3600)
    running = asyncio.create_task(worker.run())
    await provider.entered.wait()
    worker.stop()
    provider.gate.set()
    stats = await asyncio.wait_for(running, 5)
    assert len(provider.published) == stats.claimed == service.messages.count(SMSState.SENT)
    assert stats.claimed in (10, 20)  # the second task may have claimed its own batch before the stop
    assert service.messages.count(SMSState.WAITING) == 30 - stats.claimed
    assert service.messages.find_expired_leases(now=FixedClock().advance(days=1), limit=100) == []


async def test_a_failing_step_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """A storage hiccup in one step does not end the worker: it waits, steps again and publishes."""
    provider = HeldProvider()
    provider.gate.set()
    service = outbox_service(provider)
    await service.send("+420777123456", "x")
    original = service.messages.claim
    calls = Counter[str]()

    def flaky(**kwargs: object) -> list[SMSMessage]:
        calls["claim"] += 1
        if calls["claim"] == 1:
            raise ConnectionError("database restarting")
        return original(**kwargs)  # type: ignore[arg-type]

    service.messages.claim = flaky  # type: ignore[method-assign]
    worker = AsyncWorker(service, idle_seconds=0.01)
    running = asyncio.create_task(worker.run())
    for _ in range(500):
        if service.messages.count(SMSState.SENT) == 1:
            break
        await asyncio.sleep(0.01)
    worker.stop()
    stats = await asyncio.wait_for(running, 5)
    assert service.messages.count(SMSState.SENT) == 1
    assert stats.claimed == 1
    assert "outbox step failed" in caplog.text


async def test_a_second_signal_cancels_the_step_in_hand_leaving_its_messages_leased() -> None:
    """SIGTERM while the step's requests are held: the worker waits for them; a second SIGTERM cancels the step.
    run() returns with ``cancelled``; the claimed messages are still WAITING under their lease (lease recovery
    settles them), the others untouched, and nothing was published."""
    provider = HeldProvider()
    service = outbox_service(provider, batch_size=10)
    await service.send_many(recipients(30), "x")
    worker = AsyncWorker(service, idle_seconds=0.01)
    worker.install_signal_handlers()
    running = asyncio.create_task(worker.run())
    await provider.entered.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.05)
    assert worker.stopping
    assert not running.done()
    os.kill(os.getpid(), signal.SIGTERM)
    stats = await asyncio.wait_for(running, 5)
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().remove_signal_handler(signum)
    assert worker.cancelled
    assert stats.claimed == 0
    assert provider.published == []
    messages = service.messages.find()
    assert {m.state for m in messages} == {SMSState.WAITING}
    assert sum(m.lease_expires_at is not None for m in messages) == 10
