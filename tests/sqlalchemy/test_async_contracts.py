"""The SQLAlchemy asyncio storage passes the storage contract suites: on an SQLite file (the sync storage, each call in
a pool of threads), and through its greenlet runner on aiosqlite (an application's engine on the same file) and on
psycopg's async mode (PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.ext.asyncio import create_async_engine

from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import build_storage, create_engine_for
from adapters_sqlalchemy.tables import tables
from smscore import SMSConfig, Storage
from tests.contracts.on_event_loop import (
    InboundOnEventLoop,
    MessagesOnEventLoop,
    OptOutsOnEventLoop,
    RateLimiterOnEventLoop,
    RefusalsOnEventLoop,
    TemplatesOnEventLoop,
    on_event_loop,
)
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


@pytest.fixture(params=["sqlite file", "aiosqlite", pytest.param("psycopg", marks=pytest.mark.postgres)])
def async_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The asyncio storage built from a URL or around an application's ``AsyncEngine`` (its schema ready, its
    tables empty), called on an event loop."""
    if request.param != "psycopg":
        shutil.copy(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "sms.db")
        url = sqlite_url(tmp_path)
    if request.param == "aiosqlite":
        engine = create_async_engine(url.replace("sqlite:", "sqlite+aiosqlite:"))
        built = build_storage.build_async(SMSConfig(storage="sqlalchemy", storage_options={"engine": engine}))

        async def aclose() -> None:  # the application's engine: the storage leaves it open, the test does not
            await built.aclose()
            await engine.dispose()

        with on_event_loop(attrs.evolve(built, aclose=aclose)) as storage:
            yield storage
        return
    if request.param == "psycopg":
        postgres: Engine = request.getfixturevalue("postgres_engine")
        with postgres.begin() as conn:
            conn.execute(delete(tables.rate_limits))  # the only table postgres_engine does not empty
        url = postgres.url.render_as_string(hide_password=False)
    with on_event_loop(build_storage.build_async(SMSConfig(storage="sqlalchemy", database_url=url))) as storage:
        yield storage


class TestAsyncMessageRepository(MessagesOnEventLoop):
    """The message repository suite (the Hypothesis query contract included)."""


class TestAsyncTemplateRepository(TemplatesOnEventLoop):
    """The template repository suite."""


class TestAsyncOptOutRepository(OptOutsOnEventLoop):
    """The opt-out list suite."""


class TestAsyncRefusalCounter(RefusalsOnEventLoop):
    """The refusal totals suite."""


class TestAsyncInboundRepository(InboundOnEventLoop):
    """The inbound SMS suite (concurrent adds become concurrent tasks)."""


class TestAsyncRateLimiter(RateLimiterOnEventLoop):
    """The rate limiter suite (concurrent reservations become concurrent tasks)."""
