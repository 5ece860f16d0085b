"""``AsyncSMSService``: the use cases of :class:`~smscore.service.SMSService` as coroutines, on the same flows.

Each method is the synchronous one (same arguments, same results, same errors, same documentation) with another
driver: where :class:`~smscore.service.SMSService` runs a use case's flow in the calling thread,
:class:`AsyncSMSService` awaits it on the event loop (:class:`~smscore.service.async_driver.AsyncDriver`). Nothing
here decides anything.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from smscore.async_ports import AsyncPublisher, BlockingRunner, call_directly
from smscore.flow import Flow, call
from smscore.service.async_driver import AsyncDriver
from smscore.service.base import ServiceBase
from smscore.service.context import ServiceContext
from smscore.service.facade import SMSService
from smscore.service.opt_outs import OptOutList

__all__ = ["AsyncOptOutList", "AsyncSMSService", "awaiting"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S")
_T = TypeVar("_T")


def awaiting(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[Any, _P], Coroutine[Any, Any, _R]]:
    """The coroutine twin of a synchronous service ``method`` whose body returns ``self._drive(flow)``: called on an
    object whose ``_drive`` awaits flows, the same body returns the awaitable result, awaited here."""

    @functools.wraps(method)
    async def twin(self: Any, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await cast(Awaitable[_R], method(self, *args, **kwargs))

    return twin


class AsyncOptOutList:
    """``service.opt_outs`` of :class:`AsyncSMSService`: the methods of
    :class:`~smscore.service.opt_outs.OptOutList` as coroutines (``await service.opt_outs.add(number)``);
    ``entry`` and ``repository`` are as there (the repository's own calls block: use the coroutines)."""

    def __init__(self, ctx: ServiceContext, drive: AsyncDriver) -> None:
        self._ctx = ctx
        self._drive = drive

    repository = OptOutList.repository
    entry = OptOutList.entry
    add = awaiting(OptOutList.add)
    remove = awaiting(OptOutList.remove)
    get = awaiting(OptOutList.get)
    contains = awaiting(OptOutList.contains)
    list = awaiting(OptOutList.list)
    count = awaiting(OptOutList.count)
    import_lines = awaiting(OptOutList.import_lines)
    sync = awaiting(OptOutList.sync)
    _contains = OptOutList._contains
    _sync_flow = OptOutList._sync_flow
    _add_all = OptOutList._add_all
    _number = OptOutList._number


class AsyncSMSService(ServiceBase):
    """:class:`~smscore.service.SMSService` for asyncio: ``await service.send(...)`` in FastAPI, Starlette or async
    Django, with the same methods, arguments, results and errors, and the same configuration.

    Build it with :func:`smscore.build_async_service` (from configuration), or from the keyword arguments of
    :class:`~smscore.service.base.ServiceBase` and: ``run_storage``, the storage's
    :class:`~smscore.async_ports.BlockingRunner` (a plain call, for memory repositories); ``sleep``, how it pauses;
    ``on_close``, awaited by :meth:`aclose` after the providers' clients are closed. Provider requests of one step
    go out up to ``max_in_flight`` (configuration) at a time. Use it as an async context manager, or await
    :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        run_storage: BlockingRunner = call_directly,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        on_close: Callable[[], Awaitable[object]] | None = None,
        **parts: Any,
    ) -> None:
        super().__init__(**parts)
        self._ctx.in_flight = self._ctx.config.max_in_flight
        self._driver = AsyncDriver(run_storage, max_in_flight=self._ctx.in_flight, sleep=sleep or asyncio.sleep)
        self._aclose_storage = on_close

    @functools.cached_property
    def opt_outs(self) -> AsyncOptOutList:
        """The opt-out list, its methods as coroutines: ``await service.opt_outs.add("+420777123456")``."""
        return AsyncOptOutList(self._ctx, self._driver)

    send = awaiting(SMSService.send)
    send_template = awaiting(SMSService.send_template)
    send_many = awaiting(SMSService.send_many)
    process_outbox = awaiting(SMSService.process_outbox)
    publish_waiting = awaiting(SMSService.publish_waiting)
    cancel = awaiting(SMSService.cancel)
    check_delivery = awaiting(SMSService.check_delivery)
    pending_delivery_checks = awaiting(SMSService.pending_delivery_checks)
    check_delivery_of = awaiting(SMSService.check_delivery_of)
    handle_status_callback = awaiting(SMSService.handle_status_callback)
    handle_inbound = awaiting(SMSService.handle_inbound)
    purge = awaiting(SMSService.purge)
    purgeable = awaiting(SMSService.purgeable)
    _options = SMSService._options

    async def call(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run one call of the service's storage (``messages``, ``templates``, ``refusals``, ``inbound``) without
        blocking the event loop: ``await service.call(service.messages.get, 7)``.

        The repositories are the storage's own, and on an asyncio storage their calls must go through its runner
        (a blocking SQLite call, an ``aiosqlite`` or psycopg engine cannot be called from the loop directly): this is
        that runner.
        """
        return await self._driver(call(fn, *args, **kwargs))

    def _drive(self, flow: Flow[_T]) -> Awaitable[_T]:
        return self._driver(flow)

    async def aclose(self) -> None:
        """Close the providers' clients (asyncio and synchronous), the driver's threads and the storage."""
        for provider in self._ctx.providers.values():
            if isinstance(provider, AsyncPublisher):
                await provider.aclose()
            provider.close()
        self._driver.shutdown()
        if self._aclose_storage is not None:
            await self._aclose_storage()

    async def __aenter__(self) -> AsyncSMSService:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
