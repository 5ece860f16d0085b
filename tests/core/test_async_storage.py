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
from smscore.ports import (
    InboundRepository,
    MessageRepository,
    OptOutRepository,
    RateLimiter,
    RefusalCounter,
    TemplateRepository,
)
from smscore.testing import memory_storage
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.on_event_loop import on_event_loop
from tests.contracts.rate_limiters import RateLimiterContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract


@pytest.fixture
def async_storage() -> Iterator[Storage]:
    """The asyncio storage ``{"storage": "memory"}`` builds, called on an event loop."""
    with on_event_loop(build_async_storage(SMSConfig(storage="memory"))) as storage:
        yield storage


class TestAsyncMemoryMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, async_storage: Storage) -> MessageRepository:
        return async_storage.messages


class TestAsyncMemoryTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, async_storage: Storage) -> TemplateRepository:
        return async_storage.templates


class TestAsyncMemoryOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, async_storage: Storage) -> OptOutRepository | None:
        return async_storage.opt_outs


class TestAsyncMemoryRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, async_storage: Storage) -> RefusalCounter | None:
        return async_storage.refusals


class TestAsyncMemoryInboundRepository(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self, async_storage: Storage) -> InboundRepository | None:
        return async_storage.inbound


class TestAsyncMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, async_storage: Storage) -> RateLimiter | None:
        return async_storage.rate_limiter


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
