"""Message writes, template reads, and SQLite's message queries and outbox claims run on the pooled driver
connection itself when nothing observes the engine.

A send stores its message and its outcome with two one-row statements. On SQLite the database does each in less
time than SQLAlchemy's ``Connection`` takes around it (the connection object, its transaction, the result object and
the per-statement event checks: about 60 us a statement on the benchmark machine), and on PostgreSQL that work is a
fifth of a send's client CPU. :func:`driver_transaction` runs the pre-compiled statements of
:class:`~adapters_sqlalchemy.bulk.MessageWriter` (and ``send_template``'s read of its template, and the pages of
messages and the claims :class:`~adapters_sqlalchemy.reads.MessageReader` runs on SQLite) on a connection
checked out of the engine's own pool instead, so the pool, its hooks (SQLite's pragmas, the liveness ping) and its
reset on return are unchanged. Driver errors are raised as the same SQLAlchemy exceptions ``Connection`` raises, so
every caller's error handling holds, and a connection the server dropped is invalidated as ``Connection`` does.
Work of one statement on PostgreSQL runs in the driver's autocommit mode, as
:func:`~adapters_sqlalchemy.transactions.one_statement` runs it.

SQLAlchemy's ``Connection`` is still used whenever something could tell the difference: an engine or dialect event
listener on statements or transactions (as tests and tracing tools add), statement logging (``echo`` or the
``sqlalchemy.engine`` logger at INFO), or an asyncio engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final

from sqlalchemy import Connection, Dialect, Engine, PoolProxiedConnection, exc
from sqlalchemy.engine.interfaces import DBAPIConnection

__all__ = ["DriverConnection", "DriverResult", "driver_transaction"]

#: The databases whose drivers run :class:`~adapters_sqlalchemy.bulk.MessageWriter`'s statements as given.
_DATABASES: Final = frozenset({"sqlite", "postgresql"})

#: The logger SQLAlchemy writes statements to (``echo`` sets it up per engine).
_STATEMENT_LOG: Final = logging.getLogger("sqlalchemy.engine.Engine")


class DriverResult:
    """What a statement returned: its rows (empty for a statement without any) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self._rows = rows
        #: The rows the statement matched or changed, as the driver counts them.
        self.rowcount = rowcount

    def all(self) -> Sequence[Any]:
        """Every row returned."""
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class DriverConnection:
    """A pooled driver connection in a transaction, running statements as ``Connection.exec_driver_sql`` does:
    one parameter tuple executes once, a list of them executes the statement for each."""

    def __init__(self, pooled: PoolProxiedConnection, dbapi_connection: DBAPIConnection, dialect: Dialect) -> None:
        #: The driver's connection (``sqlite3.Connection``, ``psycopg.Connection``).
        self.dbapi_connection = dbapi_connection
        self._pooled = pooled
        self._dialect = dialect

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> DriverResult:
        """Run ``statement`` with ``parameters``; driver errors raise SQLAlchemy's exception for them."""
        many = isinstance(parameters, list)
        cursor = self.dbapi_connection.cursor()
        try:
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, () if parameters is None else parameters)
            # Read to the end first: SQLite counts a RETURNING statement's rows only once they are all read.
            rows = cursor.fetchall() if cursor.description is not None else []
            return DriverResult(rows, cursor.rowcount)
        except Exception as error:
            raise _failed(error, self._pooled, self._dialect, statement, parameters, cursor, many=many) from error
        finally:
            if self._pooled.is_valid:
                cursor.close()


def driver_transaction(engine: Engine, *, single: bool = False) -> AbstractContextManager[DriverConnection] | None:
    """A transaction on a pooled driver connection of ``engine``, committed when the block ends and rolled back
    when it raises; for ``single`` work of one statement on PostgreSQL, the driver's autocommit mode instead (see
    :func:`~adapters_sqlalchemy.transactions.one_statement`). None when SQLAlchemy's ``Connection`` must run the
    statements (see the module docstring)."""
    dialect = engine.dialect
    if dialect.name not in _DATABASES or dialect.is_async or engine.echo or _STATEMENT_LOG.isEnabledFor(logging.INFO):
        return None
    if _listened(engine) or _listened(Connection) or _listened(dialect):
        return None
    return _transaction(engine, autocommit=single and dialect.name == "postgresql")


def _listened(target: object) -> bool:
    """Whether an event listener is attached to ``target`` (an engine, the ``Connection`` class or a dialect).

    This is the flag SQLAlchemy itself reads at each of its event points, set by ``event.listen`` on the object
    or its class; it is not public, so a version without it reads as listened to and keeps ``Connection``.
    """
    return bool(getattr(target, "_has_events", True))


@contextmanager
def _transaction(engine: Engine, *, autocommit: bool) -> Iterator[DriverConnection]:
    dialect = engine.dialect
    try:
        pooled = engine.raw_connection()
    except Exception as error:
        raise _wrapped(error, dialect, None, None) from error
    raw = pooled.dbapi_connection
    if raw is None:  # pragma: no cover - a connection just checked out always has its driver connection
        pooled.close()
        raise exc.InvalidRequestError("the pool handed out a connection without a driver connection")
    try:
        if autocommit:
            try:
                dialect.set_isolation_level(raw, "AUTOCOMMIT")
            except Exception as error:
                raise _failed(error, pooled, dialect, "SET AUTOCOMMIT", None) from error
        yield DriverConnection(pooled, raw, dialect)
        if not autocommit:
            try:
                pooled.commit()
            except Exception as error:
                raise _failed(error, pooled, dialect, "COMMIT", None) from error
    finally:
        if autocommit and pooled.is_valid:
            try:
                dialect.reset_isolation_level(raw)
            except Exception as error:
                # Whatever failed, the connection's mode is unknown: the pool replaces it rather than hand it out.
                pooled.invalidate(error)
        # Returning the connection to the pool rolls back whatever a failed block left open (the pool's reset).
        pooled.close()


def _failed(
    error: Exception,
    pooled: PoolProxiedConnection,
    dialect: Dialect,
    statement: str | None,
    parameters: Any,
    cursor: Any = None,
    *,
    many: bool = False,
) -> Any:
    """The exception to raise for ``error`` from a driver call on ``pooled``, which is invalidated first when the
    server has dropped it, as ``Connection`` does, so that the pool never hands it out again."""
    if isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(error, pooled.dbapi_connection, cursor):
        pooled.invalidate(error)
    return _wrapped(error, dialect, statement, parameters, many=many)


def _wrapped(error: Exception, dialect: Dialect, statement: str | None, parameters: Any, *, many: bool = False) -> Any:
    """``error`` as SQLAlchemy raises it from ``Connection``: a driver error becomes its ``DBAPIError`` subclass
    (``IntegrityError``, ``OperationalError``, ...); SQLAlchemy's own errors and anything else stay as they are."""
    driver_error = dialect.loaded_dbapi.Error
    if not isinstance(error, driver_error):
        return error
    return exc.DBAPIError.instance(statement, parameters, error, driver_error, dialect=dialect, ismulti=many)
