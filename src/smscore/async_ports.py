"""The ports of the asyncio service: the provider roles that publish and check without blocking an event loop, and
how a storage's calls are run from a coroutine.

Storage stays one set of repositories (:class:`~smscore.ports.Storage`): an asyncio storage adapter gives, next to
them, a :class:`BlockingRunner` that runs each repository call without blocking the loop (a pool of threads for
an SQLite file, SQLAlchemy's greenlet bridge over psycopg's async mode or ``aiosqlite``, Django's
``sync_to_async``, a plain call for memory; :func:`in_threads` runs any sync storage so). A
provider plays :class:`AsyncPublisher` (and :class:`AsyncDeliveryChecker`) when it has a client of its own for the
loop; one that does not is called in a bounded pool of threads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import ParamSpec, Protocol, TypeVar, runtime_checkable

import attrs

from smscore.config import SMSConfig
from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.ports import Storage

__all__ = [
    "AsyncDeliveryChecker",
    "AsyncPublisher",
    "AsyncStorage",
    "AsyncStorageFactory",
    "BlockingRunner",
    "call_directly",
    "in_threads",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class BlockingRunner(Protocol):
    """Runs one blocking call (a repository method and its arguments) from a coroutine, without blocking the event
    loop, and returns what it returned (or raises what it raised)."""

    def __call__(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Awaitable[_R]: ...


async def call_directly(fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """The :class:`BlockingRunner` of storages that never wait (memory): the call itself."""
    return fn(*args, **kwargs)


@attrs.frozen
class AsyncStorage:
    """A storage for the asyncio service: its repositories, the runner of their calls, and how to release it."""

    storage: Storage
    run: BlockingRunner
    aclose: Callable[[], Awaitable[None]]


def in_threads(storage: Storage) -> AsyncStorage:
    """``storage`` for the asyncio service as it is, each call run in a pool of threads of its own, bounded as
    Python's default pool is (``min(32, CPUs + 4)`` threads), so that a blocking call never holds up the event loop;
    ``aclose`` closes the storage in that pool, then stops the pool's threads.

    A cancelled call still runs to its end in its thread (a thread cannot be interrupted): what it stored stays
    stored, as after a worker that died.
    """
    import asyncio  # loaded by those who use asyncio
    import functools
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(thread_name_prefix="smscore-storage")

    async def run(fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))

    async def aclose() -> None:
        try:
            await run(storage.close)
        finally:
            pool.shutdown()

    return AsyncStorage(storage=storage, run=run, aclose=aclose)


@runtime_checkable
class AsyncStorageFactory(Protocol):
    """Optional role of a :class:`~smscore.ports.StorageFactory`: build the storage for the asyncio service.

    Raises as the factory's ``__call__`` does. A factory without this role is run in a pool of threads.
    """

    def build_async(self, config: SMSConfig) -> AsyncStorage: ...


@runtime_checkable
class AsyncPublisher(Protocol):
    """Optional role of a provider: :meth:`~smscore.ports.SMSProvider.publish` as a coroutine, on a client of its
    own for the event loop, with the same contract (one outcome per message, in order, never raising for anything
    the service or the network did). ``aclose`` releases that client; calling it again does nothing."""

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class AsyncDeliveryChecker(Protocol):
    """Optional role of a provider: :meth:`~smscore.ports.DeliveryChecker.bulk_check_sms_states` as a coroutine,
    with the same contract."""

    async def abulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]: ...
