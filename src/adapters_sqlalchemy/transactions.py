"""How the repositories open a connection for work that is one statement, and so needs no transaction of its own.

On PostgreSQL a transaction costs two round trips besides its statements (psycopg sends ``BEGIN`` before the first
and ``COMMIT`` at the end). A write that is exactly one statement is atomic by itself, so :func:`one_statement`
runs it in the driver's autocommit mode: one round trip instead of three. Elsewhere (SQLite, whose ``BEGIN`` and
``COMMIT`` are calls into the library, not round trips) it is an ordinary transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, Engine

__all__ = ["one_statement"]


def one_statement(engine: Engine) -> AbstractContextManager[Connection]:
    """A connection of ``engine`` for the one statement of an atomic step (the caller runs no more than one)."""
    if engine.dialect.name != "postgresql":
        return engine.begin()
    return _autocommit(engine)


@contextmanager
def _autocommit(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        # Back to the engine's own isolation level when the pool takes the connection back.
        yield conn.execution_options(isolation_level="AUTOCOMMIT")
