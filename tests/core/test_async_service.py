"""What only the asyncio service has: provider requests side by side (``max_in_flight``), providers without
asyncio roles kept off the event loop, cancellation that loses nothing, and its life cycle.

The use cases themselves run against ``AsyncSMSService`` in the suites written for both (``flavoured``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

import smscore
from smscore import AsyncSMSService, Outcome, SMSConfig, SMSMessage, SMSState
from smscore.testing import (
    FixedClock,
    InMemoryMessageRepository,
    InMemoryRateLimiter,
    InMemoryTemplateRepository,
    ScriptedProvider,
    memory_storage,
)
from tests.async_scenario import every_use_case

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class SlowProvider(ScriptedProvider):
    """Takes one message per request and answers after ``delay`` seconds on the event loop; records how many of
    its requests were in flight at once, and can hold every request until released."""

    def __init__(self, delay: float = 0.01, *, can_check_by_our_id: bool = False) -> None:
        super().__init__(max_batch_size=1, can_check_by_our_id=can_check_by_our_id)
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.aclosed = False

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.entered.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.delay)
            return self.publish(messages)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        self.aclosed = True


def service_with(provider: object, clock: FixedClock | None = None, **config: object) -> AsyncSMSService:
    return AsyncSMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": provider},
        config=SMSConfig.from_mapping(config),
        clock=clock or FixedClock(),
        rate_limiter=InMemoryRateLimiter(),
    )


async def test_build_async_service_reads_the_same_configuration_and_closes_what_it_opened() -> None:
    async with smscore.build_async_service({"storage": "memory", "provider": "dummy", "use_accent": False}) as service:
        message = await service.send("+420 777 123 456", "Příliš žluťoučký kůň", tag="welcome", order_id=42)
        assert (message.state, message.content, message.recipient) == (
            SMSState.DEBUG,
            "Prilis zlutoucky kun",
            "+420777123456",
        )
        assert service.messages.get(message.id or 0) == message


async def test_errors_are_the_synchronous_ones_and_nothing_is_stored() -> None:
    async with service_with(ScriptedProvider()) as service:
        with pytest.raises(smscore.InvalidRecipientError):
            await service.send("not a number", "hello")
        with pytest.raises(smscore.TemplateNotFoundError):
            await service.send_template("+420777123456", "missing")
        assert service.messages.count() == 0


async def test_one_message_per_request_providers_get_max_in_flight_requests_at_once() -> None:
    provider = SlowProvider()
    async with service_with(provider, max_in_flight=10) as service:
        sent = await service.send_many([f"+42077712{n:04d}" for n in range(45)], "hello")
    assert [m.state for m in sent] == [SMSState.SENT] * 45
    assert provider.peak == 10
    assert provider.aclosed
    assert provider.closed


async def test_the_outbox_publishes_side_by_side_and_stores_every_outcome() -> None:
    provider = SlowProvider()
    provider.will(*[Outcome.transient("HTTP 503")] * 3)
    async with service_with(provider, batch_sending=True, max_in_flight=8, batch_size=20) as service:
        await service.send_many([f"+42077712{n:04d}" for n in range(20)], "hello")
        report = await service.process_outbox()
    assert report.claimed == 20
    assert report.states == {SMSState.SENT: 17, SMSState.WAITING: 3}
    assert provider.peak == 8


async def test_rate_limits_hold_for_requests_side_by_side() -> None:
    provider = SlowProvider(delay=0)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    service = AsyncSMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": provider},
        config=SMSConfig.from_mapping({"rate_limits": {"default": 10}, "max_in_flight": 5}),
        clock=FixedClock(),
        rate_limiter=InMemoryRateLimiter(),
        sleep=sleep,
    )
    async with service:
        await service.send_many([f"+42077712{n:04d}" for n in range(5)], "hello")
    # Five slots a tenth of a second apart: the first goes now, the others wait their turn.
    assert sorted(waits) == pytest.approx([0.1, 0.2, 0.3, 0.4])


async def test_a_provider_without_asyncio_roles_is_called_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    called_from: list[int] = []

    class Blocking(ScriptedProvider):
        def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
            called_from.append(threading.get_ident())
            return super().publish(messages)

    async with service_with(Blocking()) as service:
        message = await service.send("+420777123456", "hello")
    assert message.state is SMSState.SENT
    assert called_from
    assert loop_thread not in called_from


@pytest.mark.parametrize("checkable", [True, False])
async def test_cancelled_while_the_provider_is_asked_the_message_is_neither_lost_nor_silently_sent_again(
    checkable: bool,
) -> None:
    """A task cancelled mid-publish leaves its message leased; when the lease ends, the delivery check settles it:
    UNKNOWN (asked by our id) for a provider that can be asked, else sent again with the possible duplicate said."""
    clock = FixedClock()
    provider = SlowProvider(can_check_by_our_id=checkable)
    provider.gate = asyncio.Event()
    config = {"lease_seconds": 60, "batch_sending": True, "retry_backoff_seconds": 1}
    async with service_with(provider, clock, **config) as service:
        sent = await service.send("+420777123456", "hello")
        step = asyncio.create_task(service.process_outbox())
        await provider.entered.wait()
        step.cancel()
        with pytest.raises(asyncio.CancelledError):
            await step
        [held] = service.messages.find()
        assert (held.id, held.state) == (sent.id, SMSState.WAITING)
        assert held.lease_expires_at is not None

        clock.advance(seconds=61)
        report = await service.check_delivery()
        assert report.recovered == 1
        [after] = service.messages.find()
        if checkable:
            assert after.state is SMSState.UNKNOWN
            assert "outcome unknown" in (after.error or "")
        else:
            assert (after.state, after.attempts) == (SMSState.WAITING, 1)
            assert "may duplicate" in (after.error or "")
    assert provider.published == []  # the cancelled request never reached the script


async def test_opt_out_list_methods_are_coroutines() -> None:
    async with service_with(ScriptedProvider()) as service:
        await service.opt_outs.add("+420777123456", reason="STOP")
        assert await service.opt_outs.contains("+420 777 123 456")
        assert not await service.opt_outs.contains("not a number")
        report = await service.opt_outs.import_lines(["recipient", "+420777000111", "bad"])
        assert (report.added, report.refused_count) == (1, 1)
        assert await service.opt_outs.count() == 2
        with pytest.raises(smscore.RecipientOptedOutError):
            await service.send("+420777000111", "hello")


async def test_every_use_case_runs_on_the_memory_storage() -> None:
    await every_use_case(memory_storage.build_async(SMSConfig()))
