"""Message writes on the pooled driver connection (SQLite, PostgreSQL): when they run there, and that they fail,
roll back and return their connection exactly as SQLAlchemy's ``Connection`` does."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, create_mock_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

import smscore
from adapters_sqlalchemy import DatabaseUnavailableError, SQLAlchemyMessageRepository
from adapters_sqlalchemy.driver import driver_transaction
from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import create_engine_for
from smscore import RelatedObject, SMSState
from tests.conftest import POSTGRES_URL
from tests.contracts.repositories import T0, make_message
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def driven(request: pytest.FixtureRequest) -> Engine:
    """Each database whose message writes run on the driver, migrated and empty."""
    found: Engine = request.getfixturevalue("file_engine" if request.param == "sqlite" else "postgres_engine")
    return found


@pytest.fixture
def scratch(driven: Engine) -> Iterator[str]:
    """The name of a table ``parent`` of a table ``<name>`` whose foreign key is checked at commit."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    with driven.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name}_parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            f"CREATE TABLE {name} (parent_id INTEGER REFERENCES {name}_parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    try:
        yield name
    finally:
        with driven.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}_parent")


def _service(engine: Engine) -> smscore.SMSService:
    return smscore.build_service({"storage": "sqlalchemy", "storage_options": {"engine": engine}, "provider": "dummy"})


def _rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


class TestWhenTheDriverRunsTheWrites:
    def test_a_plain_engine_writes_on_the_driver(self, engine: Engine) -> None:
        """SQLite file and memory, and PostgreSQL, with nothing listening."""
        assert driver_transaction(engine) is not None

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

    def test_another_database_keeps_the_connection(self) -> None:
        """Only the drivers the writer compiles its statements for take them (elsewhere it is not used at all)."""
        engine = create_mock_engine("mysql://", lambda *args: None)
        assert driver_transaction(engine) is None  # type: ignore[arg-type]


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

    def test_a_refused_commit_raises_sqlalchemys_error_and_keeps_nothing(self, driven: Engine, scratch: str) -> None:
        """A constraint checked at commit (a deferred foreign key) fails the commit itself: IntegrityError, as
        ``Connection`` raises it, and the rows of the block are gone."""
        transaction = driver_transaction(driven)
        assert transaction is not None
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"), transaction as conn:
            conn.exec_driver_sql(f"INSERT INTO {scratch} (parent_id) VALUES (7)")
        assert _rows(driven, scratch) == 0
        assert driven.pool.checkedout() == 0  # type: ignore[attr-defined]

    def test_an_error_in_the_block_rolls_back_and_passes_through(self, driven: Engine, scratch: str) -> None:
        """Anything raised between the statements is the caller's own error, unchanged; nothing is committed."""
        transaction = driver_transaction(driven)
        assert transaction is not None

        def insert_then_fail() -> None:
            with transaction as conn:
                conn.exec_driver_sql(f"INSERT INTO {scratch}_parent (id) VALUES (1)")
                raise KeyError("mid-way")

        with pytest.raises(KeyError, match="mid-way"):
            insert_then_fail()
        assert _rows(driven, f"{scratch}_parent") == 0

    def test_a_statement_error_names_the_driver_reason(self, driven: Engine) -> None:
        """A driver error in a statement is SQLAlchemy's wrapper of it, with the driver's text."""
        transaction = driver_transaction(driven, single=True)
        assert transaction is not None
        with pytest.raises(IntegrityError, match=r"(?i)not.null"), transaction as conn:
            conn.exec_driver_sql("INSERT INTO smscore_message (recipient) VALUES (NULL)")

    def test_a_duplicate_key_names_its_holder_on_the_driver(self, driven: Engine) -> None:
        """The idempotency clash, caught from the driver's error, names the stored message."""
        repo = SQLAlchemyMessageRepository(driven)
        holder = repo.add(make_message(idempotency_key="k"))
        with pytest.raises(smscore.DuplicateIdempotencyKeyError) as raised:
            repo.add(make_message(idempotency_key="k", content="other"))
        assert raised.value.existing == holder
        assert repo.count() == 1

    @pytest.mark.postgres
    def test_a_connection_the_server_dropped_is_not_handed_out_again(self, postgres_engine: Engine) -> None:
        """A disconnect in a statement invalidates the pooled connection, as ``Connection`` does: the error is
        DatabaseUnavailableError for that write, and the next write gets a new connection."""
        repo = SQLAlchemyMessageRepository(postgres_engine)
        transaction = driver_transaction(postgres_engine)
        assert transaction is not None
        admin = create_engine(POSTGRES_URL)
        try:

            def dropped_mid_way() -> None:
                with transaction as conn:
                    (pid,) = conn.exec_driver_sql("SELECT pg_backend_pid()").all()[0]
                    with admin.begin() as other:
                        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    conn.exec_driver_sql("SELECT 1")

            with pytest.raises(OperationalError):
                dropped_mid_way()
        finally:
            admin.dispose()
        assert postgres_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert repo.add(make_message()).id is not None


@pytest.mark.postgres
class TestPostgresAutocommitMode:
    def test_a_connection_that_cannot_switch_mode_is_a_storage_error(self, postgres_engine: Engine) -> None:
        """A pool hook that leaves the checked-out connection inside a transaction stops the switch to autocommit:
        the driver's refusal is a StorageError like any other, and nothing is stored."""

        def leave_open(dbapi_connection: Any, record: object, proxy: object) -> None:
            dbapi_connection.execute("SELECT 1")

        repo = SQLAlchemyMessageRepository(postgres_engine)
        event.listen(postgres_engine, "checkout", leave_open)
        try:
            with pytest.raises(smscore.StorageError, match="autocommit"):
                repo.add(make_message())
        finally:
            event.remove(postgres_engine, "checkout", leave_open)
        assert repo.count() == 0

    def test_a_connection_closed_in_the_block_is_replaced(self, postgres_engine: Engine) -> None:
        """Its mode cannot be set back, so the pool drops it rather than hand out a connection in autocommit."""
        transaction = driver_transaction(postgres_engine, single=True)
        assert transaction is not None
        with transaction as conn:
            conn.exec_driver_sql("SELECT 1")
            conn.dbapi_connection.close()
        assert postgres_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        repo = SQLAlchemyMessageRepository(postgres_engine)
        assert repo.add(make_message()).id is not None
        with postgres_engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]


class _Recorded:
    """A psycopg cursor that notes each statement's first word and whether its connection was in autocommit."""

    def __init__(self, cursor: Any, connection: Any, seen: list[tuple[str, bool]]) -> None:
        self._cursor, self._connection, self._seen = cursor, connection, seen

    def execute(self, statement: str, *args: Any, **kwargs: Any) -> Any:
        self._seen.append((statement.split()[0], bool(self._connection.autocommit)))
        return self._cursor.execute(statement, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class TestWhatTheDatabaseSees:
    """The same statements as on ``Connection`` (``test_screening`` and ``test_transactions`` count those with a
    listener)."""

    def test_a_send_on_sqlite_is_one_insert_and_one_update(self, file_engine: Engine) -> None:
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

    def test_send_template_on_sqlite_reads_its_template_then_writes_twice(self, file_engine: Engine) -> None:
        """The template read runs on the driver too, and gives the stored template back as ``Connection`` would:
        aware datetimes, a real boolean."""
        service = _service(file_engine)
        service.templates.save(smscore.SMSTemplate(slug="otp", body="Code {{ code }}"))
        with traced_statements(file_engine) as seen:
            sent = service.send_template(CZ, "otp", {"code": "1234"})
        assert sent.content == "Code 1234"
        assert [head for head in seen if head not in {"BEGIN", "COMMIT"}] == [
            "SELECT smscore_template.slug, smscore_template.body,",
            "INSERT INTO smscore_message",
            "UPDATE smscore_message SET",
        ]
        template = service.templates.get("otp")
        assert template.is_active is True
        assert template.created_at is not None
        assert template.created_at.tzinfo is UTC

    def test_send_many_on_sqlite_is_one_insert_and_one_update_run(self, file_engine: Engine) -> None:
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

    @pytest.mark.postgres
    def test_postgresql_runs_one_statement_writes_in_autocommit(self, postgres_engine: Engine) -> None:
        """One statement is atomic by itself, so it is sent without BEGIN and COMMIT; several share a transaction;
        either way the connection goes back to the pool in transaction mode."""
        seen: list[tuple[str, bool]] = []
        spied: list[Any] = []

        def spy(dbapi_connection: Any, record: object, proxy: object) -> None:
            if dbapi_connection in spied:
                return
            cursor = dbapi_connection.cursor

            def watched(*args: Any, **kwargs: Any) -> Any:
                return _Recorded(cursor(*args, **kwargs), dbapi_connection, seen)

            dbapi_connection.cursor = watched
            spied.append(dbapi_connection)

        repo = SQLAlchemyMessageRepository(postgres_engine)
        event.listen(postgres_engine, "checkout", spy)
        try:
            stored = repo.add(make_message())
            repo.save(stored.transition(SMSState.DEBUG, at=T0))
            first, second = repo.add_many([make_message(), make_message(recipient="+420777123457")])
            repo.save_many([first.transition(SMSState.DEBUG, at=T0), second.transition(SMSState.DEBUG, at=T0)])
            repo.add(make_message(related_objects=(RelatedObject("shop.order", 1),)))
        finally:
            event.remove(postgres_engine, "checkout", spy)
            for dbapi_connection in spied:
                vars(dbapi_connection).pop("cursor", None)
        # The message with related objects is two statements (on Connection), so it keeps its transaction too.
        assert seen == [
            ("INSERT", True),
            ("UPDATE", True),
            ("INSERT", True),
            ("UPDATE", False),
            ("INSERT", False),
            ("INSERT", False),
        ]
        with postgres_engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
