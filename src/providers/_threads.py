"""A bounded pool of threads for the asyncio roles of a backend whose client blocks (boto3): each call runs in one
of at most ``threads`` threads, made at the first call and shut down by :meth:`BlockingCalls.aclose`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["BlockingCalls"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class BlockingCalls:
    """Runs blocking calls from coroutines in a pool of at most ``threads`` threads named ``name``.

    A call waiting for a thread when its task is cancelled never starts; one already running goes on to its end
    (a thread cannot be stopped), so every call must bound itself (the backends' whole-call deadlines do).
    """

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._threads = threads
        self._name = name
        self._pool: ThreadPoolExecutor | None = None

    @property
    def threads(self) -> int:
        """The most calls running at once."""
        return self._threads

    async def run(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """``fn(*args, **kwargs)`` in a thread of the pool; what it returns or raises."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix=self._name)
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def aclose(self) -> None:
        """Drop the calls still waiting for a thread and wait, without blocking the loop, for the running ones to
        end. Calling it again does nothing; a later :meth:`run` makes a new pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            # Joining the threads blocks: it is done in a thread of its own, so the loop goes on meanwhile.
            await asyncio.to_thread(pool.shutdown, wait=True)
