"""Message writes run on the pooled SQLite driver connection itself, when nothing observes the engine's statements.

A send stores its message and its outcome with two one-row statements, and on SQLite the database does each in
less time than SQLAlchemy's ``Connection`` takes around it (building the connection, its transaction, the result
object and the per-statement event checks: about 60 us a statement on the benchmark machine). :func:`driver_transaction` runs the pre-compiled
statements of :class:`~adapters_sqlalchemy.bulk.MessageWriter` on a connection checked out of the engine's own
pool instead, and commits it, so the pool, its ``connect`` hooks (the pragmas) and its reset on return are
unchanged; driver errors are raised as the same SQLAlchemy exceptions ``Connection`` raises, so every caller's
error handling holds.

SQLAlchemy's ``Connection`` is still used whenever something could tell the difference: an engine or dialect event
listener on statements or transactions (as tests and tracing tools add), statement logging (``echo`` or the
``sqlalchemy.engine`` logger at INFO), an asyncio engine, or any database but SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final

from sqlalchemy import Connection, Dialect, Engine, exc

__all__ = ["DriverConnection", "DriverResult", "driver_transaction"]

#: The logger SQLAlchemy writes statements to (``echo`` sets it up per engine).
_STATEMENT_LOG: Final = logging.getLogger("sqlalchemy.engine.Engine")


class DriverResult:
    """What a statement returned: its rows (empty for a statement without any) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        #: The rows the statement matched or changed, as the driver counts them.
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        """Every row returned."""
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class DriverConnection:
    """A pooled driver connection in a transaction, running statements as ``Connection.exec_driver_sql`` does:
    one parameter tuple executes once, a list of them executes the statement for each."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        #: The driver's connection (``sqlite3.Connection``).
        self.dbapi_connection = dbapi_connection
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
            raise _wrapped(error, self._dialect, statement, parameters, many=many) from error
        finally:
            cursor.close()


def driver_transaction(engine: Engine) -> AbstractContextManager[DriverConnection] | None:
    """A transaction on a pooled driver connection of ``engine``, committed when the block ends and rolled back
    when it raises; None when SQLAlchemy's ``Connection`` must run the statements (see the module docstring)."""
    dialect = engine.dialect
    if dialect.name != "sqlite" or dialect.is_async or engine.echo or _STATEMENT_LOG.isEnabledFor(logging.INFO):
        return None
    if _listened(engine) or _listened(Connection) or _listened(dialect):
        return None
    return _transaction(engine)


def _listened(target: object) -> bool:
    """Whether an event listener is attached to ``target`` (an engine, the ``Connection`` class or a dialect).

    This is the flag SQLAlchemy itself reads at each of its event points, set by ``event.listen`` on the object
    or its class; it is not public, so a version without it reads as listened to and keeps ``Connection``.
    """
    return bool(getattr(target, "_has_events", True))


@contextmanager
def _transaction(engine: Engine) -> Iterator[DriverConnection]:
    dialect = engine.dialect
    try:
        pooled = engine.raw_connection()
    except Exception as error:
        raise _wrapped(error, dialect, None, None) from error
    try:
        yield DriverConnection(pooled.dbapi_connection, dialect)
        try:
            pooled.commit()
        except Exception as error:
            raise _wrapped(error, dialect, "COMMIT", None) from error
    finally:
        # Returning the connection to the pool rolls back whatever a failed block left open (the pool's reset).
        pooled.close()


def _wrapped(error: Exception, dialect: Dialect, statement: str | None, parameters: Any, *, many: bool = False) -> Any:
    """``error`` as SQLAlchemy raises it from ``Connection``: a driver error becomes its ``DBAPIError`` subclass
    (``IntegrityError``, ``OperationalError``, ...); SQLAlchemy's own errors and anything else stay as they are."""
    driver_error = dialect.loaded_dbapi.Error
    if not isinstance(error, driver_error):
        return error
    return exc.DBAPIError.instance(statement, parameters, error, driver_error, dialect=dialect, ismulti=many)
