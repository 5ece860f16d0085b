"""Pooled PostgreSQL connections are checked before use only when in doubt, and a dead one never reaches a caller."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from adapters_sqlalchemy import SQLAlchemyMessageRepository, liveness
from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import create_engine_for
from tests.conftest import POSTGRES_URL
from tests.contracts.repositories import make_message

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(fresh_postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(fresh_postgres_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pings the engine's dialect makes."""
    made: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        made.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return made


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, pings: list[int]) -> None:
    repo = SQLAlchemyMessageRepository(engine)
    for _ in range(5):
        repo.add(make_message())
    assert repo.count() == 5
    assert pings == []


def test_a_connection_idle_for_long_is_pinged(
    engine: Engine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = SQLAlchemyMessageRepository(engine)
    repo.count()
    monkeypatch.setattr(liveness, "IDLE_SECONDS", 0.0)
    repo.count()
    assert pings == [1]


def test_a_connection_the_server_ended_is_replaced_before_anyone_uses_it(engine: Engine, pings: list[int]) -> None:
    """The server's goodbye waits on the socket: the checkout sees it, pings, and hands out a new connection."""
    repo = SQLAlchemyMessageRepository(engine)
    repo.add(make_message())
    doomed = _backend_pid(engine)
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed}).scalar_one()
    finally:
        admin.dispose()
    time.sleep(0.2)  # the goodbye reaches our socket
    assert repo.count() == 1
    assert pings == [1]
    assert _backend_pid(engine) != doomed
