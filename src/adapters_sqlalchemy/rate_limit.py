"""The rate-limiter port on SQLAlchemy Core: :class:`SQLAlchemyRateLimiter`.

One row per key (a provider name) in ``smscore_rate_limit`` says when the key's next send slot is free. Each
reservation is one transaction that holds the key's row locked from the moment it reads it until it commits, so
reservations made by any number of processes sharing the database follow each other without overlapping:

1. the row is created when missing (``INSERT ... ON CONFLICT DO NOTHING``). On SQLite this first statement is a
   write, so it takes the database's single write lock before anything is read: concurrent reservations queue
   there (waiting up to the connection's busy timeout), as ``BEGIN IMMEDIATE`` would make them;
2. the row is read ``FOR UPDATE`` (a row lock on PostgreSQL; SQLite already holds its write lock);
3. the start, ``max(now, next_free)``, is computed in Python and ``next_free`` moved to its end.

Datetimes are compared and added in Python, never in SQL, so every database gives the same, microsecond-exact
slots.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Executable, exists, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from adapters_sqlalchemy.errors import storage_errors
from adapters_sqlalchemy.tables import Tables
from adapters_sqlalchemy.tables import tables as default_tables
from adapters_sqlalchemy.types import UTCDateTime
from smscore.ports import check_reservation

__all__ = ["SQLAlchemyRateLimiter"]


class SQLAlchemyRateLimiter:
    """A :class:`~smscore.ports.RateLimiter` in a SQL table, shared by every process using the database.

    ``tables`` are the tables to use (by default the package's own; pass the result of
    :func:`~adapters_sqlalchemy.define_tables` when they live on the application's metadata). The schema must
    exist. Database failures raise :class:`~smscore.errors.StorageError`.
    """

    def __init__(self, engine: Engine, *, tables: Tables | None = None) -> None:
        self.engine = engine
        self.tables = tables or default_tables
        self._t = self.tables.rate_limits
        # Reservations of one limiter take turns in this process too: an engine with a single shared connection
        # (SQLite in memory) must never interleave two transactions on it. Not on the sync facade of an async
        # engine: its calls share the event loop's thread, where a thread lock held across an awaited statement
        # would block the loop for good (that storage's runner makes a single connection take turns itself).
        self._lock: AbstractContextManager[object] = nullcontext() if engine.dialect.is_async else threading.Lock()

    def reserve(self, key: str, count: int, *, interval: float, now: datetime) -> datetime:
        """See :meth:`smscore.ports.RateLimiter.reserve`.

        Raises ``ValueError`` for a count below one, an interval that is not positive, or a naive ``now``.
        """
        check_reservation(count, interval, now)
        span = timedelta(seconds=interval * count)
        try:
            with self._lock, storage_errors(integrity=False), self.engine.begin() as conn:
                return self._book(conn, key, span, now)
        except IntegrityError:
            # Only where the row is created without ON CONFLICT (neither PostgreSQL nor SQLite): another process
            # created it between our check and our insert. It exists now, so this second try cannot clash.
            with self._lock, storage_errors(), self.engine.begin() as conn:
                return self._book(conn, key, span, now)

    def _book(self, conn: Connection, key: str, span: timedelta, now: datetime) -> datetime:
        t = self._t
        conn.execute(self._create_missing(conn.dialect.name, key, now))
        next_free: datetime = conn.execute(select(t.c.next_free).where(t.c.key == key).with_for_update()).scalar_one()
        start = max(now, next_free)
        conn.execute(update(t).where(t.c.key == key).values(next_free=start + span))
        return start

    def _create_missing(self, dialect: str, key: str, now: datetime) -> Executable:
        """A statement that inserts the key's row (free from ``now``) unless it exists."""
        t = self._t
        if dialect in {"postgresql", "sqlite"}:
            # Imported here: loading every PostgreSQL dialect module slows down each command-line start.
            from sqlalchemy.dialects import postgresql, sqlite

            insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
            return insert_into(t).values(key=key, next_free=now).on_conflict_do_nothing(index_elements=[t.c.key])
        missing = select(literal(key, t.c.key.type), literal(now, UTCDateTime())).where(~exists().where(t.c.key == key))
        return insert(t).from_select(["key", "next_free"], missing)
