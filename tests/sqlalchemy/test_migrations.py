"""The shipped Alembic migrations: they build exactly the tables the code defines, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, inspect, text

from adapters_sqlalchemy import SchemaMismatchError, SQLAlchemyMessageRepository, define_tables, metadata
from adapters_sqlalchemy.schema import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    VERSION_TABLE,
    alembic_config,
    check,
    current_revision,
    differences,
    ensure_schema,
    head_revision,
    upgrade,
)
from adapters_sqlalchemy.storage import create_engine_for
from adapters_sqlalchemy.tables import TABLE_NAMES
from tests.contracts.repositories import make_message
from tests.sqlalchemy.conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database that holds nothing yet."""
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    engine = create_engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _indexes(engine: Engine) -> dict[str, list[str | None]]:
    with engine.connect() as conn:
        return {str(index["name"]): index["column_names"] for index in inspect(conn).get_indexes("smscore_message")}


class TestUpgrade:
    def test_upgrade_from_empty_reaches_head_and_check_is_clean(self, empty_engine: Engine) -> None:
        """An empty database upgraded to head has the three tables, the head revision and no differences."""
        assert upgrade(empty_engine) == head_revision()
        assert _tables(empty_engine) == {*TABLE_NAMES, VERSION_TABLE}
        with empty_engine.connect() as conn:
            assert current_revision(conn) == head_revision()
        assert differences(empty_engine) == []
        assert check(empty_engine) == head_revision()

    def test_upgrade_twice_changes_nothing(self, empty_engine: Engine) -> None:
        """A second upgrade is a no-op that keeps the data."""
        upgrade(empty_engine)
        stored = SQLAlchemyMessageRepository(empty_engine).add(make_message())
        assert upgrade(empty_engine) == head_revision()
        assert SQLAlchemyMessageRepository(empty_engine).get(stored.id or 0) == stored

    def test_downgrade_to_base_then_upgrade_again(self, empty_engine: Engine) -> None:
        """Every migration can be reverted: base leaves only the version table, and head comes back clean."""
        upgrade(empty_engine)
        with empty_engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert _tables(empty_engine) == {VERSION_TABLE}
        upgrade(empty_engine)
        assert check(empty_engine) == head_revision()

    def test_downgrade_one_step_drops_the_state_index_and_upgrade_restores_it(self, empty_engine: Engine) -> None:
        """0004 adds only ix_smscore_message_state; going back to 0003 takes it away, with the data kept."""
        upgrade(empty_engine)
        stored = SQLAlchemyMessageRepository(empty_engine).add(make_message())
        with empty_engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0003")
        assert "ix_smscore_message_state" not in _indexes(empty_engine)
        assert upgrade(empty_engine) == head_revision()
        assert _indexes(empty_engine)["ix_smscore_message_state"] == ["state", "id"]
        assert check(empty_engine) == head_revision()
        assert SQLAlchemyMessageRepository(empty_engine).get(stored.id or 0) == stored

    def test_the_migrations_leave_other_tables_alone(self, empty_engine: Engine) -> None:
        """An application's own tables in the same database are neither touched nor reported as differences."""
        with empty_engine.begin() as conn:
            conn.execute(text("CREATE TABLE app_order (id INTEGER PRIMARY KEY, total INTEGER)"))
        upgrade(empty_engine)
        assert "app_order" in _tables(empty_engine)
        assert differences(empty_engine) == []

    def test_the_models_equal_the_migrations(self, empty_engine: Engine) -> None:
        """Tables created from the models, then stamped at head, show no difference (and vice versa above)."""
        metadata.create_all(empty_engine)
        with empty_engine.begin() as conn:
            command.stamp(alembic_config(conn), "head")
        assert check(empty_engine) == head_revision()


class TestCheck:
    def test_check_fails_on_a_database_without_the_schema(self, empty_engine: Engine) -> None:
        """A database the migrations never ran on is not at head."""
        with pytest.raises(SchemaMismatchError, match="revision none"):
            check(empty_engine)

    def test_check_fails_when_the_tables_differ_from_the_models(self, empty_engine: Engine) -> None:
        """A column the models do not have (a model changed without a migration) makes check fail, named."""
        upgrade(empty_engine)
        with empty_engine.begin() as conn:
            conn.execute(text("ALTER TABLE smscore_message ADD COLUMN surprise INTEGER"))
        with pytest.raises(SchemaMismatchError, match="surprise") as info:
            check(empty_engine)
        assert "\n" not in str(info.value)


class TestEnsureSchema:
    def test_auto_creates_the_schema_of_an_empty_database(self, empty_engine: Engine) -> None:
        """auto mode on an empty database runs every migration."""
        ensure_schema(empty_engine, "auto")
        assert check(empty_engine) == head_revision()

    def test_never_leaves_the_database_alone(self, empty_engine: Engine) -> None:
        """never mode creates nothing."""
        ensure_schema(empty_engine, "never")
        assert not (_tables(empty_engine) & TABLE_NAMES)

    def test_tables_on_the_applications_metadata_are_left_to_the_application(self, empty_engine: Engine) -> None:
        """Tables an application created from its own metadata (no smscore revision) are not migrated again."""
        app_metadata = MetaData()
        sms_tables = define_tables(app_metadata)
        app_metadata.create_all(empty_engine)
        ensure_schema(empty_engine, "auto")
        assert VERSION_TABLE not in _tables(empty_engine)
        repo = SQLAlchemyMessageRepository(empty_engine, tables=sms_tables)
        stored = repo.add(make_message())
        assert repo.get(stored.id or 0) == stored

    def test_define_tables_is_idempotent_on_one_metadata(self) -> None:
        """Defining the tables twice on one metadata returns the same tables."""
        app_metadata = MetaData()
        assert define_tables(app_metadata) == define_tables(app_metadata)
        assert define_tables(metadata).messages is metadata.tables["smscore_message"]


def test_two_processes_creating_one_new_sqlite_file_do_not_race(tmp_path: Path) -> None:
    """Two processes that open the same new SQLite file at once both start; the schema is created once."""
    url = sqlite_url(tmp_path)
    script = (
        "import sys; from adapters_sqlalchemy.storage import build_storage; from smscore import SMSConfig; "
        "s = build_storage(SMSConfig(storage='sqlalchemy', database_url=sys.argv[1])); "
        "print(s.messages.count()); s.close()"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    results = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], [err for _, err in results]
    assert [out.strip() for out, _ in results] == [b"0"] * 3
    engine = create_engine_for(url)
    try:
        assert check(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_head_revision_constant_is_the_newest_script() -> None:
    """Starting up compares against HEAD_REVISION; it must name the newest migration script."""
    assert head_revision() == HEAD_REVISION


def test_the_migrations_ship_inside_the_package() -> None:
    """env.py, the script template and the revisions live in the package directory (so the wheel has them)."""
    assert MIGRATIONS_DIR.parent.name == "adapters_sqlalchemy"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("*.py"))
