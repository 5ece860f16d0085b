"""The SQLAlchemy asyncio storage passes the storage contract suites: every call through its greenlet runner, on
aiosqlite (an SQLite file) and on psycopg's async mode (PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import build_storage, create_engine_for
from adapters_sqlalchemy.tables import tables
from smscore import SMSConfig, Storage
from smscore.ports import (
    InboundRepository,
    MessageRepository,
    OptOutRepository,
    RateLimiter,
    RefusalCounter,
    TemplateRepository,
)
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.on_event_loop import on_event_loop
from tests.contracts.rate_limiters import RateLimiterContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract
from tests.sqlalchemy.conftest import sqlite_url


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the newest revision, copied by each test (migrating costs more than the test)."""
    folder = tmp_path_factory.mktemp("migrated")
    engine = create_engine_for(sqlite_url(folder))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return folder / "sms.db"


@pytest.fixture(params=["aiosqlite", pytest.param("psycopg", marks=pytest.mark.postgres)])
def async_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The asyncio storage built from a URL (its schema ready, its tables empty), called on an event loop."""
    if request.param == "aiosqlite":
        shutil.copy(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "sms.db")
        url = sqlite_url(tmp_path)
    else:
        postgres: Engine = request.getfixturevalue("postgres_engine")
        with postgres.begin() as conn:
            conn.execute(delete(tables.rate_limits))  # the only table postgres_engine does not empty
        url = postgres.url.render_as_string(hide_password=False)
    with on_event_loop(build_storage.build_async(SMSConfig(storage="sqlalchemy", database_url=url))) as storage:
        yield storage


class TestAsyncMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, async_storage: Storage) -> MessageRepository:
        return async_storage.messages


class TestAsyncTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, async_storage: Storage) -> TemplateRepository:
        return async_storage.templates


class TestAsyncOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, async_storage: Storage) -> OptOutRepository | None:
        return async_storage.opt_outs


class TestAsyncRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, async_storage: Storage) -> RefusalCounter | None:
        return async_storage.refusals


class TestAsyncInboundRepository(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self, async_storage: Storage) -> InboundRepository | None:
        return async_storage.inbound


class TestAsyncRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, async_storage: Storage) -> RateLimiter | None:
        return async_storage.rate_limiter
