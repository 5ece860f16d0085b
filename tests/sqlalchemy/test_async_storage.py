"""``build_async`` of the SQLAlchemy storage: the async drivers, the schema, who disposes of the engine, SQLite in
memory, and the errors of the async drivers translated as the sync ones are."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from adapters_sqlalchemy import DatabaseUnavailableError
from adapters_sqlalchemy.schema import check, head_revision, upgrade
from adapters_sqlalchemy.storage import build_storage, create_engine_for
from adapters_sqlalchemy.tables import MESSAGE_TABLE, TEMPLATE_TABLE
from smscore import ConfigurationError, SMSConfig, SMSTemplate
from smscore.async_ports import AsyncStorage, AsyncStorageFactory
from tests.contracts.repositories import T0, make_message
from tests.sqlalchemy.conftest import sqlite_url


def _build(**config: Any) -> AsyncStorage:
    return build_storage.build_async(SMSConfig.from_mapping({"storage": "sqlalchemy", **config}))


def _engine(storage: AsyncStorage) -> Engine:
    """The sync facade of the storage's AsyncEngine, on which its repositories are built."""
    engine: Engine = storage.storage.messages.engine  # type: ignore[attr-defined]
    return engine


def test_the_factory_plays_the_async_role() -> None:
    """The core finds build_async on the factory ``{"storage": "sqlalchemy"}`` names."""
    assert isinstance(build_storage, AsyncStorageFactory)


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite"])
def test_an_sqlite_file_is_the_sync_storage_in_a_pool_of_threads(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a URL (./smscore.db), or with one naming either SQLite driver: migrated at build time, then written
    through the sync driver, each call in a worker thread (one hand-over per call, where aiosqlite hands over
    every statement); aclose disposes of the engine the storage built."""
    monkeypatch.chdir(tmp_path)
    storage = _build() if scheme == "sqlite" else _build(database_url=f"{scheme}:///{tmp_path / 'smscore.db'}")
    engine = _engine(storage)
    pool = engine.pool
    assert (engine.dialect.driver, engine.dialect.is_async) == ("pysqlite", False)
    twin = create_engine_for(sqlite_url(tmp_path, "smscore.db"))
    try:
        assert check(twin) == head_revision()
    finally:
        twin.dispose()

    async def scenario() -> None:
        stored = await storage.run(storage.storage.messages.add, make_message())
        assert await storage.run(storage.storage.messages.get, stored.id or 0) == stored
        worker = await storage.run(threading.current_thread)
        assert worker is not threading.current_thread()
        assert worker.name.startswith("smscore-storage")
        await storage.aclose()

    asyncio.run(scenario())
    assert engine.pool is not pool


@pytest.mark.postgres
def test_postgres_runs_on_psycopgs_async_mode_and_claims_with_skip_locked(fresh_postgres_url: str) -> None:
    """A postgresql+psycopg URL: migrated at build time, psycopg's async dialect, and the claim still reads
    FOR UPDATE SKIP LOCKED."""
    storage = _build(database_url=fresh_postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    engine = _engine(storage)
    assert (engine.dialect.name, engine.dialect.is_async) == ("postgresql", True)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    messages = storage.storage.messages

    async def scenario() -> None:
        try:
            await storage.run(messages.add_many, [make_message(), make_message()])
            claimed = await storage.run(messages.claim, now=T0, lease_until=T0 + timedelta(minutes=5), limit=10)
            assert len(claimed) == 2
        finally:
            await storage.aclose()

    asyncio.run(scenario())
    assert any("FOR UPDATE SKIP LOCKED" in sql for sql in statements)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_claims_on_the_loop_never_take_the_same_message(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four tasks claiming at once, each on its own connection, share the due messages without overlap."""
    url = sqlite_url(tmp_path) if database == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    storage = _build(database_url=url)
    messages = storage.storage.messages

    async def scenario() -> None:
        try:
            await storage.run(messages.add_many, [make_message() for _ in range(40)])
            lease = T0 + timedelta(minutes=5)
            pages = await asyncio.gather(
                *[storage.run(messages.claim, now=T0, lease_until=lease, limit=10) for _ in range(4)]
            )
            ids = [m.id for page in pages for m in page]
            assert sorted(ids) == list(range(1, 41))
        finally:
            await storage.aclose()

    asyncio.run(scenario())


def test_aiosqlite_inserts_a_batch_in_one_statement(tmp_path: Path) -> None:
    """add_many on aiosqlite (an application's engine on a file) packs as many rows in one INSERT as the sync
    driver does (the library's limit of parameters, read without asking aiosqlite's connection)."""

    async def scenario() -> None:
        engine = create_async_engine(sqlite_url(tmp_path).replace("sqlite:", "sqlite+aiosqlite:"))
        statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        storage = _build(storage_options={"engine": engine})
        try:
            stored = await storage.run(storage.storage.messages.add_many, [make_message() for _ in range(500)])
            assert [m.id for m in stored] == list(range(1, 501))
        finally:
            await storage.aclose()
            await engine.dispose()
        assert len([sql for sql in statements if sql.startswith(f"INSERT INTO {MESSAGE_TABLE} ")]) == 1, statements

    asyncio.run(scenario())


def test_an_application_engine_gets_its_schema_at_the_first_call_and_stays_open() -> None:
    """storage_options.engine: an AsyncEngine of the application's; the schema is made on it by the first call
    (through the same bridge), and aclose leaves it to the application."""

    async def scenario() -> None:
        engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
        try:
            storage = _build(storage_options={"engine": engine})
            pool = engine.sync_engine.pool
            saved = await storage.run(storage.storage.templates.save, SMSTemplate(slug="otp", body="{{ code }}"))
            await storage.aclose()
            assert engine.sync_engine.pool is pool
            async with engine.connect() as conn:
                assert (await conn.exec_driver_sql(f"SELECT slug FROM {TEMPLATE_TABLE}")).scalar() == saved.slug
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_migrate_never_leaves_an_application_engine_alone() -> None:
    """With migrate = never the first call finds no tables: a StorageError, and nothing is created."""

    async def scenario() -> None:
        engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
        try:
            storage = _build(storage_options={"engine": engine, "migrate": "never"})
            with pytest.raises(DatabaseUnavailableError, match="no such table"):
                await storage.run(storage.storage.messages.count)
            async with engine.connect() as conn:
                assert (await conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")).scalar() == 0
        finally:
            await engine.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize("given", ["url", "engine"])
def test_sqlite_in_memory_is_one_database_whose_calls_take_turns(given: str) -> None:
    """sqlite:// (or an application's in-memory engine) keeps one connection: the schema is made on it by the
    first call, and concurrent tasks each get the whole connection for their call (no interleaved
    transactions)."""
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    config: dict[str, Any] = (
        {"database_url": "sqlite://"} if given == "url" else {"storage_options": {"engine": engine}}
    )
    storage = _build(**config)
    messages = storage.storage.messages

    async def scenario() -> None:
        try:
            batches = await asyncio.gather(*[storage.run(messages.add_many, [make_message()] * 3) for _ in range(8)])
            assert sorted(m.id for batch in batches for m in batch) == list(range(1, 25))
            assert await storage.run(messages.count) == 24
        finally:
            await storage.aclose()
            await engine.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize("given", ["url", "aiosqlite engine"])
def test_a_locked_file_is_a_storage_error(given: str, tmp_path: Path) -> None:
    """'database is locked', from the sync driver in its thread or from aiosqlite (an application's engine), is
    translated as the sync storage translates it (DatabaseUnavailableError)."""
    url = sqlite_url(tmp_path)
    options = {"busy_timeout": "0.2"}
    blocker = create_engine(url)
    upgrade(blocker)

    async def scenario() -> None:
        engine = create_async_engine(url.replace("sqlite:", "sqlite+aiosqlite:"), connect_args={"timeout": 0.2})
        storage = (
            _build(database_url=url, storage_options=options)
            if given == "url"
            else _build(storage_options={"engine": engine})
        )
        try:
            with blocker.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                with pytest.raises(DatabaseUnavailableError, match="database is locked"):
                    await storage.run(storage.storage.templates.save, SMSTemplate(slug="otp", body="x"))
                conn.rollback()
            await storage.run(storage.storage.templates.save, SMSTemplate(slug="otp", body="x"))
        finally:
            await storage.aclose()
            await engine.dispose()
            blocker.dispose()

    asyncio.run(scenario())


def test_an_unreachable_server_behind_an_application_engine_is_a_storage_error_without_the_password() -> None:
    """psycopg's async connection error: DatabaseUnavailableError, one line, no password; a later call tries
    the schema again."""

    async def scenario() -> None:
        engine = create_async_engine("postgresql+psycopg://someone:hunter2@127.0.0.1:1/nothing")
        try:
            storage = _build(storage_options={"engine": engine})
            for _ in range(2):
                with pytest.raises(DatabaseUnavailableError) as info:
                    await storage.run(storage.storage.messages.count)
                assert "hunter2" not in str(info.value)
                assert "\n" not in str(info.value)
        finally:
            await engine.dispose()

    asyncio.run(scenario())


class TestConfigurationErrors:
    @pytest.mark.parametrize(
        ("config", "key", "match"),
        [
            ({"database_url": "mysql+pymysql://u:hunter2@h/d"}, "database_url", "SQLite and on PostgreSQL"),
            ({"database_url": "postgresql+psycopg2://u:hunter2@h/d"}, "database_url", "pass an AsyncEngine"),
            ({"database_url": "not a url"}, "database_url", "not a valid SQLAlchemy URL"),
            ({"storage_options": {"migrate": "sometimes"}}, "storage_options.migrate", "auto, always, never"),
        ],
    )
    def test_bad_settings_name_the_key(self, config: dict[str, Any], key: str, match: str) -> None:
        """Each wrong setting is a ConfigurationError naming it; passwords in URLs are never repeated."""
        with pytest.raises(ConfigurationError, match=match) as info:
            _build(**config)
        assert info.value.key == key
        assert "hunter2" not in str(info.value)

    def test_a_missing_async_driver_names_the_extra_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SQLite in memory without aiosqlite: a ConfigurationError naming smscore[asyncio]."""
        monkeypatch.setitem(sys.modules, "aiosqlite", None)
        with pytest.raises(ConfigurationError, match=r"'aiosqlite' is not installed: pip install 'smscore\[asyncio\]'"):
            _build(database_url="sqlite://")

    def test_an_sqlite_file_needs_no_async_package(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Neither aiosqlite nor greenlet is needed for an SQLite file: its calls run in threads."""
        monkeypatch.setitem(sys.modules, "aiosqlite", None)
        real = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda name, package=None: None if name == "greenlet" else real(name, package)
        )
        storage = _build(database_url=sqlite_url(tmp_path))

        async def scenario() -> int:
            try:
                return await storage.run(storage.storage.messages.count)
            finally:
                await storage.aclose()

        assert asyncio.run(scenario()) == 0

    def test_a_sync_engine_is_refused(self) -> None:
        """The asyncio storage needs an AsyncEngine; a sync one is named as the wrong kind."""
        engine = create_engine("sqlite://")
        try:
            with pytest.raises(ConfigurationError, match="must be a SQLAlchemy AsyncEngine") as info:
                _build(storage_options={"engine": engine})
            assert info.value.key == "storage_options.engine"
        finally:
            engine.dispose()

    def test_an_engine_and_a_url_together_are_refused(self) -> None:
        """Two sources for one database are ambiguous."""
        engine = create_async_engine("sqlite+aiosqlite://")
        with pytest.raises(ConfigurationError, match="not both"):
            _build(database_url="sqlite://", storage_options={"engine": engine})
