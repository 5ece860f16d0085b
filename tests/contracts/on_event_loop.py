"""Running the storage contract suites against an asyncio storage: each repository call goes through the
storage's runner, on an event loop.

:func:`on_event_loop` gives the repositories of an :class:`~smscore.async_ports.AsyncStorage` wrapped so that
every method call is ``await storage.run(method, *args, **kwargs)`` on an event loop running in a thread of its
own, and waits for the answer. The suites' assertions then exercise the real asyncio paths (a pool of threads,
SQLAlchemy's greenlet bridge on aiosqlite or psycopg, Django's ``sync_to_async``). The loop lives in its own thread because some cases
call from several threads at once: their calls become concurrent tasks on the one loop, as in an asyncio
application. The ``...OnEventLoop`` suites take the repositories from an ``async_storage`` fixture built so.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from smscore.async_ports import AsyncStorage, BlockingRunner
from smscore.ports import (
    InboundRepository,
    MessageRepository,
    OptOutRepository,
    RateLimiter,
    RefusalCounter,
    Storage,
    TemplateRepository,
)
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.rate_limiters import RateLimiterContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract

_T = TypeVar("_T")


class EventLoopThread:
    """An event loop running in a thread of its own; :meth:`run` waits for a coroutine from any other thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-event-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and return its result (or raise its error)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


class ThroughRunner:
    """``target`` (a repository), each of whose method calls runs through ``run`` on ``loop``."""

    def __init__(self, target: object, run: BlockingRunner, loop: EventLoopThread) -> None:
        self._target = target
        self._run = run
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return functools.partial(self._call, value)

    def _call(self, method: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        async def call() -> _T:
            return await self._run(method, *args, **kwargs)

        return self._loop.run(call())


@contextmanager
def on_event_loop(storage: AsyncStorage) -> Iterator[Storage]:
    """The repositories of ``storage``, called through its runner on an event loop; ``aclose`` at the end."""
    loop = EventLoopThread()

    def through(target: object) -> Any:
        return None if target is None else ThroughRunner(target, storage.run, loop)

    repositories = storage.storage
    try:
        yield Storage(
            messages=through(repositories.messages),
            templates=through(repositories.templates),
            rate_limiter=through(repositories.rate_limiter),
            opt_outs=through(repositories.opt_outs),
            refusals=through(repositories.refusals),
            inbound=through(repositories.inbound),
        )
    finally:
        try:
            loop.run(storage.aclose())
        finally:
            loop.close()


# The suites on the repositories of an ``async_storage`` fixture (a Storage from :func:`on_event_loop`) that a test
# module provides: subclass each as ``Test...`` there.


class MessagesOnEventLoop(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, async_storage: Storage) -> MessageRepository:
        return async_storage.messages


class TemplatesOnEventLoop(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, async_storage: Storage) -> TemplateRepository:
        return async_storage.templates


class OptOutsOnEventLoop(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, async_storage: Storage) -> OptOutRepository | None:
        return async_storage.opt_outs


class RefusalsOnEventLoop(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, async_storage: Storage) -> RefusalCounter | None:
        return async_storage.refusals


class InboundOnEventLoop(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self, async_storage: Storage) -> InboundRepository | None:
        return async_storage.inbound


class RateLimiterOnEventLoop(RateLimiterContract):
    @pytest.fixture
    def limiter(self, async_storage: Storage) -> RateLimiter | None:
        return async_storage.rate_limiter
