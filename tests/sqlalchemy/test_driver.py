"""Message writes on the pooled SQLite driver connection: when they run there, and that they fail, roll back and
return their connection exactly as SQLAlchemy's ``Connection`` does."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

import smscore
from adapters_sqlalchemy import DatabaseUnavailableError
from adapters_sqlalchemy.driver import driver_transaction
from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import create_engine_for
from smscore import SMSState
from tests.sqlalchemy.conftest import sqlite_url
from tests.sqlalchemy.statements import traced_statements

CZ = "+420777123456"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite file that gives up on another writer's lock after a tenth of a second."""
    engine = create_engine_for(sqlite_url(tmp_path), busy_timeout=0.1)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _service(engine: Engine) -> smscore.SMSService:
    return smscore.build_service({"storage": "sqlalchemy", "storage_options": {"engine": engine}, "provider": "dummy"})


class TestWhenTheDriverRunsTheWrites:
    def test_a_plain_sqlite_engine_writes_on_the_driver(
        self, file_engine: Engine, sqlite_memory_engine: Engine
    ) -> None:
        """The engines smscore builds, file and memory, with nothing listening."""
        assert driver_transaction(file_engine) is not None
        assert driver_transaction(sqlite_memory_engine) is not None

    def test_pool_listeners_keep_the_driver_path(self, file_engine: Engine) -> None:
        """Pool events (``connect``, ``checkout``) fire the same on both paths, so they change nothing."""
        event.listen(file_engine, "checkout", lambda *args: None)
        assert driver_transaction(file_engine) is not None

    @pytest.mark.parametrize("name", ["before_cursor_execute", "after_execute", "commit", "handle_error"])
    def test_an_engine_or_dialect_listener_keeps_the_connection(self, file_engine: Engine, name: str) -> None:
        """A listener must see every statement and transaction, as it does elsewhere."""
        event.listen(file_engine, name, lambda *args: None)
        assert driver_transaction(file_engine) is None

    def test_a_listener_on_the_connection_class_keeps_the_connection(self, tmp_path: Path) -> None:
        """Listening on ``Connection`` itself (as tracing tools do) cannot be taken back in a process, so it runs
        in one of its own."""
        script = textwrap.dedent(
            f"""
            from sqlalchemy import Connection, event
            from adapters_sqlalchemy.driver import driver_transaction
            from adapters_sqlalchemy.storage import create_engine_for

            engine = create_engine_for({sqlite_url(tmp_path)!r})
            assert driver_transaction(engine) is not None
            event.listen(Connection, "before_cursor_execute", lambda *args: None)
            assert driver_transaction(engine) is None
            print("ok")
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
        )
        assert done.stdout.strip() == "ok", done.stderr

    def test_statement_logging_keeps_the_connection(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """``echo`` and the ``sqlalchemy.engine`` logger at INFO both mean every statement is written down."""
        echoing = create_engine_for(sqlite_url(tmp_path, "echo.db"))
        echoing.echo = True
        try:
            assert driver_transaction(echoing) is None
        finally:
            echoing.dispose()
        quiet = create_engine_for(sqlite_url(tmp_path, "quiet.db"))
        try:
            caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
            assert driver_transaction(quiet) is None
            caplog.set_level(logging.WARNING, logger="sqlalchemy.engine")
            assert driver_transaction(quiet) is not None
        finally:
            quiet.dispose()

    def test_an_asyncio_engine_keeps_the_connection(self, tmp_path: Path) -> None:
        """aiosqlite's connection lives in a thread of its own: only SQLAlchemy's bridge may use it."""
        engine = create_async_engine(sqlite_url(tmp_path).replace("sqlite:", "sqlite+aiosqlite:"))
        assert driver_transaction(engine.sync_engine) is None

    @pytest.mark.postgres
    def test_postgresql_keeps_the_connection(self, postgres_engine: Engine) -> None:
        """A PostgreSQL round trip costs far more than ``Connection`` does: nothing to gain there."""
        assert driver_transaction(postgres_engine) is None


class TestFailures:
    def test_a_locked_database_refuses_the_send_and_stores_nothing(self, file_engine: Engine) -> None:
        """Another writer's lock past the busy timeout is DatabaseUnavailableError, as on ``Connection``; the
        connection goes back to the pool, and the next send, once the lock is gone, is stored."""
        service = _service(file_engine)
        other = sqlite3.connect(file_engine.url.database or "", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(DatabaseUnavailableError, match="database is locked"):
                service.send(CZ, "Blocked")
            other.execute("ROLLBACK")
            assert file_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            sent = service.send(CZ, "Through")
        finally:
            other.close()
        assert sent.state is SMSState.DEBUG
        assert [m.content for m in service.messages.find()] == ["Through"]

    def test_a_refused_commit_raises_sqlalchemys_error_and_keeps_nothing(self, file_engine: Engine) -> None:
        """A constraint checked at commit (a deferred foreign key) fails the commit itself: IntegrityError, as
        ``Connection`` raises it, and the rows of the block are gone."""
        with file_engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        transaction = driver_transaction(file_engine)
        assert transaction is not None
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), transaction as conn:
            conn.exec_driver_sql("INSERT INTO child (parent_id) VALUES (?)", (7,))
        with file_engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM child").scalar() == 0
        assert file_engine.pool.checkedout() == 0  # type: ignore[attr-defined]

    def test_an_error_in_the_block_rolls_back_and_passes_through(self, file_engine: Engine) -> None:
        """Anything raised between the statements is the caller's own error, unchanged; nothing is committed."""
        with file_engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        transaction = driver_transaction(file_engine)
        assert transaction is not None

        def insert_then_fail() -> None:
            with transaction as conn:
                conn.exec_driver_sql("INSERT INTO scratch (x) VALUES (?)", (1,))
                raise KeyError("mid-way")

        with pytest.raises(KeyError, match="mid-way"):
            insert_then_fail()
        with file_engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 0

    def test_a_statement_error_names_the_driver_reason(self, file_engine: Engine) -> None:
        """A driver error in a statement is SQLAlchemy's wrapper of it, with the driver's text."""
        transaction = driver_transaction(file_engine)
        assert transaction is not None
        with pytest.raises(IntegrityError, match="NOT NULL"), transaction as conn:
            conn.exec_driver_sql("INSERT INTO smscore_message (recipient) VALUES (?)", (None,))


class TestWhatTheDatabaseSees:
    """The same statements as on ``Connection`` (``test_screening`` counts those with a listener)."""

    def test_a_send_is_one_insert_and_one_update(self, file_engine: Engine) -> None:
        """The message stored (the insert reads the opt-out list itself), then its outcome."""
        service = _service(file_engine)
        with traced_statements(file_engine) as seen:
            service.send(CZ, "Hello")
        assert seen == [
            "BEGIN",
            "INSERT INTO smscore_message",
            "COMMIT",
            "BEGIN",
            "UPDATE smscore_message SET",
            "COMMIT",
        ]

    def test_send_many_is_one_insert_and_one_update_run(self, file_engine: Engine) -> None:
        """No look-up of the opt-out list before the insert; the listed number is refused all the same."""
        service = _service(file_engine)
        service.opt_outs.add(CZ)
        with traced_statements(file_engine) as seen:
            sent = service.send_many(["+420777000001", CZ, "+420777000002"], "Hello")
        assert [(item.index, item.error.reason) for item in sent.refused] == [(1, "opted_out")]
        assert [head for head in seen if head not in {"BEGIN", "COMMIT"}] == [
            "INSERT INTO smscore_message",
            "INSERT INTO smscore_refusal",  # the count of refusals by reason
            "UPDATE smscore_message SET",
        ]
        assert [m.recipient for m in service.messages.find(state=SMSState.DEBUG)] == ["+420777000002", "+420777000001"]
