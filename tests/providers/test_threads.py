"""The bounded pool of threads the asyncio roles of a blocking client run in (:mod:`providers._threads`)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from providers._threads import BlockingCalls


def test_at_most_threads_calls_run_and_a_cancelled_waiting_call_never_starts() -> None:
    """With one thread busy, a second call waits; cancelled while waiting, it never runs; aclose ends the pool."""
    release = threading.Event()
    started: list[str] = []

    def call(name: str) -> str:
        started.append(name)
        release.wait(5)
        return name

    async def scenario() -> None:
        calls = BlockingCalls(1, "test-pool")
        first = asyncio.create_task(calls.run(call, "first"))
        second = asyncio.create_task(calls.run(call, "second"))
        await asyncio.sleep(0.05)
        assert started == ["first"]
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        assert await first == "first"
        await calls.aclose()
        await calls.aclose()

    asyncio.run(scenario())
    assert started == ["first"]


def test_what_a_call_raises_is_raised_to_its_task() -> None:
    """An exception of the call reaches the awaiting coroutine unchanged."""

    def fail() -> None:
        raise LookupError("from the thread")

    async def scenario() -> None:
        calls = BlockingCalls(2, "test-pool")
        try:
            with pytest.raises(LookupError, match="from the thread"):
                await calls.run(fail)
        finally:
            await calls.aclose()

    asyncio.run(scenario())


def test_threads_must_be_positive() -> None:
    """A pool of no thread would never run anything: refused."""
    with pytest.raises(ValueError, match="at least 1"):
        BlockingCalls(0, "test-pool")
