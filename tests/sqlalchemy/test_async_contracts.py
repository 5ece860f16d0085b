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
