"""build_async_storage: the in-memory storage under asyncio passes the contract suites, and a storage factory
without ``build_async`` is run in a pool of threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from smscore import SMSConfig, SMSTemplate, Storage
from smscore.async_ports import AsyncStorageFactory, call_directly
from smscore.bootstrap import build_async_storage
from smscore.testing import memory_storage
from tests.contracts.on_event_loop import (
    InboundOnEventLoop,
    MessagesOnEventLoop,
    OptOutsOnEventLoop,
    RateLimiterOnEventLoop,
    RefusalsOnEventLoop,
    TemplatesOnEventLoop,
    on_event_loop,
)


@pytest.fixture
def async_storage() -> Iterator[Storage]:
    """The asyncio storage ``{"storage": "memory"}`` builds, called on an event loop."""
    with on_event_loop(build_async_storage(SMSConfig(storage="memory"))) as storage:
        yield storage


class TestAsyncMemoryMessageRepository(MessagesOnEventLoop):
    """The message repository suite (the Hypothesis query contract included)."""


class TestAsyncMemoryTemplateRepository(TemplatesOnEventLoop):
    """The template repository suite."""


class TestAsyncMemoryOptOutRepository(OptOutsOnEventLoop):
    """The opt-out list suite."""


class TestAsyncMemoryRefusalCounter(RefusalsOnEventLoop):
    """The refusal totals suite."""


class TestAsyncMemoryInboundRepository(InboundOnEventLoop):
    """The inbound SMS suite (concurrent adds become concurrent tasks)."""


class TestAsyncMemoryRateLimiter(RateLimiterOnEventLoop):
    """The rate limiter suite (concurrent reservations become concurrent tasks)."""


def test_the_memory_storage_is_called_directly() -> None:
    """Memory never waits: its calls run on the loop itself."""
    assert isinstance(memory_storage, AsyncStorageFactory)
    assert build_async_storage(SMSConfig(storage="memory")).run is call_directly


class PlainStorage:
    """A storage factory without ``build_async`` (as an application's own may be), counting its closes."""

    def __init__(self) -> None:
        self.closed = 0

    def __call__(self, config: SMSConfig) -> Storage:
        storage = memory_storage(config)
        return Storage(messages=storage.messages, templates=storage.templates, close=self.close)

    def close(self) -> None:
        self.closed += 1


PLAIN_STORAGE = PlainStorage()


def test_a_factory_without_build_async_is_run_in_a_pool_of_threads() -> None:
    """The sync storage is used as it is, each call in a worker thread (never on the loop's), and aclose closes
    it once."""
    assert not isinstance(PLAIN_STORAGE, AsyncStorageFactory)
    storage = build_async_storage(SMSConfig(storage=f"{__name__}:PLAIN_STORAGE"))
    templates = storage.storage.templates

    async def scenario() -> None:
        saved = await storage.run(templates.save, SMSTemplate(slug="otp", body="Code {{ code }}"))
        assert await storage.run(templates.get, slug="otp") == saved
        worker = await storage.run(threading.current_thread)
        assert worker is not threading.current_thread()
        assert worker.name.startswith("smscore-storage")
        await storage.aclose()

    asyncio.run(scenario())
    assert PLAIN_STORAGE.closed == 1
