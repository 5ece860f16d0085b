"""Schema management with the Alembic migrations shipped inside this package.

The migrations live in ``adapters_sqlalchemy/migrations`` and record their revision in their own table,
``smscore_alembic_version``, so they never collide with an application's ``alembic_version``. They touch only the
tables this package owns (:data:`~adapters_sqlalchemy.tables.TABLE_NAMES`).

* :func:`upgrade` brings a database to the newest revision; concurrent callers wait for each other (SQLite's
  write lock, a PostgreSQL advisory lock), so two processes starting on a new database do not race.
* :func:`check` raises :class:`SchemaMismatchError` when the database is not at the newest revision or when
  its tables differ from :mod:`adapters_sqlalchemy.tables` (a model changed without a migration).
* :func:`ensure_schema` is what :func:`~adapters_sqlalchemy.storage.build_storage` runs: it creates the schema of
  a new, empty database and keeps an SQLite file up to date.

Applications that manage these tables with their own Alembic (see :func:`~adapters_sqlalchemy.define_tables`)
pass ``storage_options = {"migrate": "never"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import Connection, Engine, String, inspect, select, text
from sqlalchemy.sql import column, table

from adapters_sqlalchemy.errors import storage_errors
from adapters_sqlalchemy.tables import MESSAGE_TABLE, TABLE_NAMES, metadata
from smscore.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "MigrateMode",
    "SchemaMismatchError",
    "alembic_config",
    "check",
    "current_revision",
    "differences",
    "ensure_schema",
    "head_revision",
    "include_name",
    "upgrade",
]

log = logging.getLogger("smscore.sqlalchemy")

#: Where the migration scripts are (inside the installed package).
MIGRATIONS_DIR: Final = Path(__file__).resolve().with_name("migrations")
#: The table holding the applied revision.
VERSION_TABLE: Final = "smscore_alembic_version"
#: The newest shipped revision, so that starting up needs no Alembic import (a test keeps it equal to the scripts).
HEAD_REVISION: Final = "0008"
#: Any 64-bit number unique to this package: the PostgreSQL advisory lock taken while migrating.
_PG_LOCK_KEY: Final = 0x736D73636F7265

#: ``auto``: create the schema of an empty database, and upgrade SQLite files; ``always``: upgrade on start;
#: ``never``: leave the schema to someone else.
MigrateMode = Literal["auto", "always", "never"]


class SchemaMismatchError(StorageError):
    """The database schema is not the one the code expects: not at the newest revision, or different tables."""


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic filter: look only at this package's tables (the database may hold an application's own)."""
    if type_ == "table":
        return name in TABLE_NAMES
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations, running on ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the shipped migrations, read from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships at least one migration
        raise StorageError("the shipped migrations are missing")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when the migrations never ran on it."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    version = column("version_num", String)
    revisions = connection.execute(select(version).select_from(table(VERSION_TABLE, version))).scalars().all()
    if len(revisions) > 1:
        raise SchemaMismatchError(f"database schema has several revisions at once: {', '.join(sorted(revisions))}")
    return revisions[0] if revisions else None


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply the migrations up to ``revision`` (default: the newest) and return the revision reached.

    Runs in one transaction holding a lock, so concurrent upgrades of one database are applied once. Raises
    :class:`~smscore.errors.StorageError` when the database cannot be migrated.
    """
    from alembic import command
    from alembic.util import CommandError

    with storage_errors(), _migration_lock(engine) as conn:
        try:
            command.upgrade(alembic_config(conn), revision)
        except CommandError as exc:
            # Typically a database written by a newer release, at a revision this code does not know.
            raise SchemaMismatchError(f"cannot upgrade the database schema: {exc}") from exc
        reached = current_revision(conn)
        conn.commit()
    return reached or "base"


def differences(engine: Engine) -> list[str]:
    """How the database's tables differ from :mod:`adapters_sqlalchemy.tables`, one line each (empty: none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with storage_errors(), engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_name": include_name, "compare_type": True, "version_table": VERSION_TABLE},
        )
        diffs = compare_metadata(context, metadata)
    return [_describe(diff) for diff in diffs]


def check(engine: Engine) -> str:
    """Return the database's revision when it is the newest and its tables match the models.

    Raises :class:`SchemaMismatchError` (one line, naming what differs) otherwise.
    """
    head = head_revision()
    with storage_errors(), engine.connect() as conn:
        current = current_revision(conn)
    if current != head:
        raise SchemaMismatchError(
            f"database schema is at revision {current or 'none'}, the code needs {head}: run 'smscore db upgrade'"
        )
    found = differences(engine)
    if found:
        raise SchemaMismatchError(f"database schema differs from the models: {'; '.join(found)}")
    return head


def ensure_schema(engine: Engine, mode: MigrateMode = "auto") -> None:
    """Bring the schema into shape for use, as ``mode`` says (see :data:`MigrateMode`).

    In ``auto`` mode a database without any of the tables gets the whole schema; an SQLite file behind the
    newest revision is upgraded; another database behind it is left alone with a logged warning (upgrade it
    with ``smscore db upgrade`` when deploying); tables present without a recorded revision belong to an
    application that manages them itself and are left alone. Raises :class:`~smscore.errors.StorageError`.
    """
    if mode == "never":
        return
    head = HEAD_REVISION
    with storage_errors(), engine.connect() as conn:
        current = current_revision(conn)
        has_tables = inspect(conn).has_table(MESSAGE_TABLE)
    if current == head:
        return
    if mode == "auto" and current is None and has_tables:
        return
    if mode == "auto" and current is not None and engine.dialect.name != "sqlite":
        log.warning("database schema is at revision %s, the code needs %s: run 'smscore db upgrade'", current, head)
        return
    upgrade(engine)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database-wide migration lock."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock before reading the revision, so a second process waits and then finds it done.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield conn


def _describe(diff: Any) -> str:
    """One readable line for an Alembic difference (a tuple, or a list of column modifications)."""
    if isinstance(diff, list):
        return ", ".join(_describe(item) for item in diff)
    operation, *rest = diff
    names = []
    for part in rest:
        name = getattr(part, "name", None)
        if isinstance(name, str):
            table = getattr(getattr(part, "table", None), "name", None)
            names.append(f"{table}.{name}" if isinstance(table, str) and table != name else name)
        elif isinstance(part, str):
            names.append(part)
    return f"{operation} {' '.join(names)}".strip()
