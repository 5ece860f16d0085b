"""Databases for the SQLAlchemy adapter's tests: SQLite files, SQLite in memory, and PostgreSQL.

PostgreSQL tests run in a schema of their own (``search_path`` set through the URL), so they never touch
another suite's tables in the shared ``test`` database; the schema is dropped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import create_engine_for
from adapters_sqlalchemy.tables import (
    INBOUND_TABLE,
    MESSAGE_TABLE,
    OPT_OUT_TABLE,
    REFUSAL_TABLE,
    RELATED_OBJECT_TABLE,
    TEMPLATE_TABLE,
)
from tests.conftest import POSTGRES_URL, require_service


def sqlite_url(folder: Path, name: str = "sms.db") -> str:
    """The URL of an SQLite file in ``folder``."""
    return f"sqlite:///{folder / name}"


def postgres_schema_url(schema: str) -> str:
    """The test database's URL with ``schema`` first on the search path."""
    return (
        make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def require_postgres() -> None:
    """Skip (or fail under CI) unless PostgreSQL is reachable."""
    require_service("PostgreSQL", "127.0.0.1", 5432)


def _admin(sql: str) -> None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A URL whose search path is a new, empty schema (dropped afterwards)."""
    require_postgres()
    schema = f"smscore_sa_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(schema)
    finally:
        _admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def postgres_session_engine() -> Iterator[Engine]:
    """One migrated schema for the whole session; tests empty it with :func:`postgres_engine`."""
    require_postgres()
    schema = f"smscore_sa_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    engine = create_engine_for(postgres_schema_url(schema))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        _admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_engine(postgres_session_engine: Engine) -> Engine:
    """The session's PostgreSQL engine, with every table emptied and ids restarted."""
    with postgres_session_engine.begin() as conn:
        conn.execute(
            text(
                f"TRUNCATE {RELATED_OBJECT_TABLE}, {MESSAGE_TABLE}, {TEMPLATE_TABLE}, {OPT_OUT_TABLE}, {REFUSAL_TABLE}, "
                f"{INBOUND_TABLE} "
                "RESTART IDENTITY CASCADE"
            )
        )
    return postgres_session_engine


@pytest.fixture
def sqlite_file_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite file, tuned as ``build_storage`` tunes it."""
    engine = create_engine_for(sqlite_url(tmp_path))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_memory_engine() -> Iterator[Engine]:
    """A plain in-memory SQLite engine, as an application would build it (one shared connection)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite_file", "sqlite_memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each supported database in turn, migrated and empty."""
    found: Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database that several engines (or processes) can open: an SQLite file or PostgreSQL."""
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    engine = create_engine_for(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url
