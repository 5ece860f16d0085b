"""build_storage / build_service with ``storage = "sqlalchemy"``: files, URLs, engines, tuning, bulk paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool

import smscore
from adapters_sqlalchemy import DatabaseUnavailableError, SQLAlchemyMessageRepository
from adapters_sqlalchemy.schema import check, head_revision
from adapters_sqlalchemy.storage import build_storage, create_engine_for
from smscore import ConfigurationError, RelatedObject, SMSConfig, SMSState, SMSTemplate, StorageError
from smscore.bootstrap import storage_schema
from smscore.ports import SchemaManager
from tests.sqlalchemy.conftest import sqlite_url

RECIPIENT = "+420777123456"


def _service(url: str, **more: Any) -> smscore.SMSService:
    return smscore.build_service({"storage": "sqlalchemy", "database_url": url, "provider": "dummy", **more})


class TestBuildService:
    def test_a_new_sqlite_file_gets_its_schema_and_keeps_the_data(self, tmp_path: Path) -> None:
        """build_service creates the schema of a new file; a second service on the file sees what the first sent."""
        url = sqlite_url(tmp_path)
        with _service(url) as service:
            sent = service.send(RECIPIENT, "Hello ✓", tag="welcome", related_objects=[RelatedObject("shop.order", 7)])
            service.templates.save(SMSTemplate(slug="otp", body="Code {{ code }}"))
        assert (tmp_path / "sms.db").is_file()
        with _service(url) as again:
            assert again.messages.get(sent.id or 0) == sent
            assert sent.state is SMSState.DEBUG
            assert again.send_template(RECIPIENT, "otp", {"code": "1234"}) is not None
            assert again.messages.count() == 2

    @pytest.mark.postgres
    def test_the_same_on_postgres(self, fresh_postgres_url: str) -> None:
        """A postgresql+psycopg URL works the same way, schema included."""
        with _service(fresh_postgres_url) as service:
            sent = service.send(RECIPIENT, "Hello ✓", order_id=42)
        with _service(fresh_postgres_url) as again:
            assert again.messages.get(sent.id or 0) == sent
            assert again.messages.get(sent.id or 0).extra_data == {"order_id": 42}

    def test_without_a_url_the_file_is_smscore_db_in_the_current_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The embedded default: ./smscore.db."""
        monkeypatch.chdir(tmp_path)
        with smscore.build_service({"storage": "sqlalchemy"}) as service:
            service.send(RECIPIENT, "hi")
        assert (tmp_path / "smscore.db").is_file()

    def test_an_in_memory_url_keeps_one_database_for_the_service(self) -> None:
        """sqlite:// (memory) shares one connection, so the schema and data stay visible."""
        with _service("sqlite://") as service:
            sent = service.send(RECIPIENT, "hi")
            assert service.messages.get(sent.id or 0) == sent


class TestSchemaRole:
    def test_the_sqlalchemy_storage_declares_schema_management(self, tmp_path: Path) -> None:
        """storage_schema finds the role without building storage: check fails before upgrade, passes after."""
        config = SMSConfig(storage="sqlalchemy", database_url=sqlite_url(tmp_path))
        schema = storage_schema(config)
        assert isinstance(schema, SchemaManager)
        with pytest.raises(StorageError, match="db upgrade"):
            schema.check_database(config)
        assert not (tmp_path / "sms.db").exists()
        assert head_revision() in schema.upgrade_database(config)
        assert "matches the models" in schema.check_database(config)


class TestSQLiteTuning:
    def test_every_connection_gets_the_pragmas(self, tmp_path: Path) -> None:
        """WAL, synchronous=NORMAL, the busy timeout and foreign keys are set on each new connection."""
        engine = create_engine_for(sqlite_url(tmp_path))
        try:
            with engine.connect() as conn:
                pragmas = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
                }
        finally:
            engine.dispose()
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}

    def test_a_writer_waits_for_the_lock_and_then_fails_clearly(self, tmp_path: Path) -> None:
        """While another connection holds the write lock past the busy timeout, a write is a StorageError."""
        url = sqlite_url(tmp_path)
        storage = build_storage(
            SMSConfig(storage="sqlalchemy", database_url=url, storage_options={"busy_timeout": "0.2"})
        )
        blocker = create_engine_for(url)
        try:
            with blocker.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                with pytest.raises(DatabaseUnavailableError, match="database is locked"):
                    storage.templates.save(SMSTemplate(slug="otp", body="x"))
                conn.rollback()
            storage.templates.save(SMSTemplate(slug="otp", body="x"))
        finally:
            blocker.dispose()
            storage.close()


class TestApplicationEngines:
    def test_an_engine_passed_in_is_used_and_left_open(self) -> None:
        """storage_options.engine: the schema is created on it, and close() does not dispose of it."""
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        try:
            pool = engine.pool
            service = smscore.build_service({"storage": "sqlalchemy", "storage_options": {"engine": engine}})
            sent = service.send(RECIPIENT, "hi")
            service.close()
            assert engine.pool is pool
            assert SQLAlchemyMessageRepository(engine).get(sent.id or 0) == sent
        finally:
            engine.dispose()

    def test_an_engine_built_from_the_url_is_disposed_on_close(self, tmp_path: Path) -> None:
        """The storage's own engine is released by close()."""
        storage = build_storage(SMSConfig(storage="sqlalchemy", database_url=sqlite_url(tmp_path)))
        assert isinstance(storage.messages, SQLAlchemyMessageRepository)
        engine = storage.messages.engine
        pool = engine.pool
        storage.close()
        assert engine.pool is not pool

    def test_migrate_never_leaves_an_empty_database_empty(self) -> None:
        """storage_options.migrate = never: the application manages the schema."""
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        try:
            build_storage(SMSConfig(storage="sqlalchemy", storage_options={"engine": engine, "migrate": "never"}))
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0
            build_storage(SMSConfig(storage="sqlalchemy", storage_options={"engine": engine, "migrate": "always"}))
            assert check(engine) == head_revision()
        finally:
            engine.dispose()


class TestConfigurationErrors:
    @pytest.mark.parametrize(
        ("config", "key", "match"),
        [
            ({"database_url": "not a url"}, "database_url", "not a valid SQLAlchemy URL"),
            ({"database_url": "nosuchdb://u:hunter2@h/d"}, "database_url", "unknown database dialect"),
            ({"storage_options": {"colour": "blue"}}, "storage_options.colour", "unknown option"),
            ({"storage_options": {"migrate": "sometimes"}}, "storage_options.migrate", "auto, always, never"),
            ({"storage_options": {"busy_timeout": "soon"}}, "storage_options.busy_timeout", "seconds"),
            ({"storage_options": {"engine": "sqlite://"}}, "storage_options.engine", "must be a SQLAlchemy Engine"),
        ],
    )
    def test_bad_settings_name_the_key(self, config: dict[str, Any], key: str, match: str) -> None:
        """Each wrong setting is a ConfigurationError naming it; passwords in URLs are never repeated."""
        with pytest.raises(ConfigurationError, match=match) as info:
            build_storage(SMSConfig.from_mapping({"storage": "sqlalchemy", **config}))
        assert info.value.key == key
        assert "hunter2" not in str(info.value)

    def test_a_missing_folder_is_named(self, tmp_path: Path) -> None:
        """An SQLite file in a folder that does not exist is refused before anything is created."""
        with pytest.raises(ConfigurationError, match="does not exist") as info:
            build_storage(SMSConfig(storage="sqlalchemy", database_url=f"sqlite:///{tmp_path}/no/such/sms.db"))
        assert info.value.key == "database_url"

    def test_an_engine_and_a_url_together_are_refused(self) -> None:
        """Two sources for one database are ambiguous."""
        engine = create_engine("sqlite://")
        try:
            with pytest.raises(ConfigurationError, match="not both"):
                build_storage(
                    SMSConfig(storage="sqlalchemy", database_url="sqlite://", storage_options={"engine": engine})
                )
        finally:
            engine.dispose()

    def test_an_unreachable_server_is_a_storage_error_without_the_password(self) -> None:
        """A server that refuses connections: DatabaseUnavailableError, one line, no password."""
        url = "postgresql://someone:hunter2@127.0.0.1:1/nothing"
        with pytest.raises(DatabaseUnavailableError) as info:
            build_storage(SMSConfig(storage="sqlalchemy", database_url=url))
        assert "hunter2" not in str(info.value)
        assert "\n" not in str(info.value)

    def test_a_file_that_is_not_a_database_is_a_storage_error(self, tmp_path: Path) -> None:
        """Pointing at some other file fails with a clear storage error, not a driver traceback."""
        (tmp_path / "notes.txt").write_text("shopping list\n" * 200)
        with pytest.raises(smscore.StorageError, match="not a database"):
            build_storage(SMSConfig(storage="sqlalchemy", database_url=sqlite_url(tmp_path, "notes.txt")))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def counted_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, list[str]]]:
    """An engine that records every statement sent to the database."""
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    engine = create_engine_for(url)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield engine, statements
    finally:
        engine.dispose()


class TestBulkPaths:
    @pytest.mark.parametrize("count", [10, 1000])
    def test_send_many_uses_a_bounded_number_of_statements(
        self, counted_engine: tuple[Engine, list[str]], count: int
    ) -> None:
        """send_many stores and publishes in batches: the statement count does not grow with the messages."""
        engine, statements = counted_engine
        with smscore.build_service(
            {"storage": "sqlalchemy", "storage_options": {"engine": engine}, "provider": "dummy"}
        ) as service:
            statements.clear()
            sent = service.send_many(
                [f"+42077700{i:04d}" for i in range(count)],
                "Sale starts today",
                related_objects=[RelatedObject("shop.campaign", 3)],
            )
        assert len(sent) == count
        assert {m.state for m in sent} == {SMSState.DEBUG}
        # One INSERT of the messages (which reads the opt-out list itself), one of their related objects, one
        # (executemany) UPDATE per provider batch.
        assert [s.split()[:3] for s in statements] == [
            ["INSERT", "INTO", "smscore_message"],
            ["INSERT", "INTO", "smscore_related_object"],
            ["UPDATE", "smscore_message", "SET"],
        ], statements
        assert "smscore_opt_out" in statements[0]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM smscore_related_object")).scalar() == count


class TestQueryPlans:
    def test_a_claim_reads_its_page_from_the_index_without_sorting_the_backlog(self, tmp_path: Path) -> None:
        """SQLite reads, per priority, the range of ix_smscore_message_claim due by now in due-time order and stops
        after the page, never sorting: a claim costs the same with 10 or a million messages waiting, and with any
        number due later."""
        from datetime import timedelta

        from tests.contracts.repositories import T0, make_message

        engine = create_engine_for(sqlite_url(tmp_path))
        statements: list[tuple[str, Any]] = []
        try:
            repo = build_storage(SMSConfig(storage="sqlalchemy", storage_options={"engine": engine})).messages
            repo.add_many([make_message(priority=1 + i % 3) for i in range(30)])
            repo.add_many([make_message(next_attempt_at=T0 + timedelta(days=1)) for i in range(30)])
            event.listen(engine, "before_cursor_execute", lambda *args: statements.append((args[2], args[3])))
            claimed = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=1), limit=15)
            assert [m.priority for m in claimed] == [1] * 10 + [2] * 5
            with engine.connect() as conn:
                plans = [
                    " / ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
                    for statement, parameters in statements
                    if statement.startswith("UPDATE")
                ]
        finally:
            engine.dispose()
        ranges = (
            "SEARCH smscore_message USING INDEX ix_smscore_message_claim (state=? AND priority=? AND next_attempt_at<?)"
        )
        assert len(plans) == 2, plans  # priority 1 (10 due), then priority 2 for the rest of the page
        for plan in plans:
            assert ranges in plan, plan
            assert "SCAN smscore_message" not in plan, plan
            assert "TEMP B-TREE" not in plan, plan

    @staticmethod
    def _plans(engine: Engine, work: Any, containing: str = "") -> list[str]:
        """The query plan of every SELECT or UPDATE that ``work()`` runs on ``engine`` (only those whose text
        has ``containing``)."""
        statements: list[tuple[str, Any]] = []

        def record(*args: Any) -> None:
            statements.append((args[2], args[3]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            work()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        with engine.connect() as conn:
            return [
                " / ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
                for statement, parameters in statements
                if statement.lstrip().startswith(("SELECT smscore_message.id, ", "UPDATE")) and containing in statement
            ]

    def test_expired_leases_and_delivery_check_pages_need_no_sort_of_the_backlog(self, tmp_path: Path) -> None:
        """Finding expired leases reads the partial lease index; a delivery-check page (one state, one provider)
        is read in id order from (state, provider)."""
        from datetime import UTC, datetime

        from tests.contracts.repositories import make_message

        engine = create_engine_for(sqlite_url(tmp_path))
        try:
            repo = build_storage(SMSConfig(storage="sqlalchemy", storage_options={"engine": engine})).messages
            now = datetime.now(UTC)
            repo.add_many([make_message(state=SMSState.SENDING, sent_at=now) for _ in range(5)])
            (lease_plan,) = self._plans(engine, lambda: repo.find_expired_leases(now=now, limit=100))
            (scan_plan,) = self._plans(
                engine, lambda: repo.scan(states=[SMSState.SENDING], provider="default", limit=500, after_id=2)
            )
        finally:
            engine.dispose()
        assert "ix_smscore_message_lease" in lease_plan, lease_plan
        assert "ix_smscore_message_state_provider" in scan_plan, scan_plan
        assert "TEMP B-TREE" not in scan_plan, scan_plan

    def test_the_idle_timeout_pages_through_one_state_in_id_order(self, tmp_path: Path) -> None:
        """Every page of the idle time-out scan that check_delivery runs (one state, sent before the cut-off)
        comes in id order from ix_smscore_message_state: no sort of the remaining in-flight messages."""
        from datetime import UTC, datetime

        from tests.contracts.repositories import make_message

        engine = create_engine_for(sqlite_url(tmp_path))
        try:
            with smscore.build_service(
                {
                    "storage": "sqlalchemy",
                    "storage_options": {"engine": engine},
                    "provider": "dummy",
                    "check_chunk_size": 2,
                }
            ) as service:
                long_ago = datetime(2020, 1, 1, tzinfo=UTC)
                service.messages.add_many(
                    [make_message(state=state, sent_at=long_ago) for state in [SMSState.SENDING, SMSState.UNKNOWN] * 3]
                )
                timed_out: list[int] = []
                plans = self._plans(
                    engine, lambda: timed_out.append(service.check_delivery().timed_out), containing="sent_at <"
                )
        finally:
            engine.dispose()
        assert timed_out == [6]
        # Per state: a full page, the last message, and the empty page that ends the scan.
        assert len(plans) == 6, plans
        for plan in plans:
            assert "ix_smscore_message_state " in f"{plan} ", plan
            assert "TEMP B-TREE" not in plan, plan
