"""The asyncio driver: performs a flow's effects by awaiting them, for :class:`~smscore.service.AsyncSMSService`.

Repository calls go through the storage's :class:`~smscore.async_ports.BlockingRunner`; providers publish and
check through their :class:`~smscore.async_ports.AsyncPublisher` and
:class:`~smscore.async_ports.AsyncDeliveryChecker` roles, or in a bounded pool of threads when they have none (as
do their other calls that may wait, such as verifying a webhook); sub-flows run side by side, at most
``max_in_flight`` at once.

Cancelling the task that awaits a flow closes the flow where it waits: a message whose provider call was
cancelled stays leased, and lease recovery or the delivery check settles it, as after a worker that died.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from smscore.async_ports import AsyncDeliveryChecker, AsyncPublisher, BlockingRunner
from smscore.flow import Blocking, Call, Check, Effect, Flow, Publish, Sleep

__all__ = ["AsyncDriver"]

_T = TypeVar("_T")


class AsyncDriver:
    """Drives flows on the running event loop.

    ``run_storage`` runs repository calls; ``max_in_flight`` bounds the sub-flows run at once and the threads that
    call providers without asyncio roles; ``sleep`` pauses (``asyncio.sleep``, or a test's fake).
    """

    def __init__(
        self,
        run_storage: BlockingRunner,
        *,
        max_in_flight: int,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self._run_storage = run_storage
        self._max_in_flight = max_in_flight
        self._sleep = sleep
        self._threads: ThreadPoolExecutor | None = None

    async def __call__(self, flow: Flow[_T]) -> _T:
        """Drive ``flow`` to its result."""
        result: Any = None
        failure: Exception | None = None
        while True:
            try:
                effect = flow.send(result) if failure is None else flow.throw(failure)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            failure = None
            try:
                result = await self._perform(effect)
            except Exception as exc:
                result, failure = None, exc
            except BaseException:
                flow.close()  # cancelled: the flow's own clean-up runs now, not when it is collected
                raise

    def shutdown(self) -> None:
        """Let the threads of providers without asyncio roles end (their current calls finish first)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Call):
            return await self._run_storage(effect.fn, *effect.args, **effect.kwargs)
        if isinstance(effect, Publish):
            if isinstance(effect.provider, AsyncPublisher):
                return await effect.provider.apublish(effect.messages)
            return await self._in_thread(effect.provider.publish, effect.messages)
        if isinstance(effect, Check):
            if isinstance(effect.provider, AsyncDeliveryChecker):
                return await effect.provider.abulk_check_sms_states(effect.messages)
            return await self._in_thread(effect.provider.bulk_check_sms_states, effect.messages)
        if isinstance(effect, Blocking):
            return await self._in_thread(effect.fn, *effect.args)
        if isinstance(effect, Sleep):
            await self._sleep(effect.seconds)
            return None
        return await self._side_by_side(effect.flows)

    async def _side_by_side(self, flows: Sequence[Flow[Any]]) -> list[Any]:
        slots = asyncio.Semaphore(self._max_in_flight)

        async def bounded(flow: Flow[Any]) -> Any:
            async with slots:
                return await self(flow)

        # A failing sub-flow cancels the others, as an error ends a synchronous step: their messages stay leased.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(bounded(flow)) for flow in flows]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=min(self._max_in_flight, 32), thread_name_prefix="smscore")
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)
