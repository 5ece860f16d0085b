"""The guards' storage on SQLAlchemy Core: the opt-out list, the refusal totals, and storing messages within
recipient limits.

:func:`insert_within_limits` is the transaction step of
:meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.add_within_limits`. Before counting, it takes a lock per
(recipient, tag), held until the transaction ends, so that no other process can count or insert for the same pair
in between: on PostgreSQL a transaction-scoped advisory lock (``pg_advisory_xact_lock``) keyed on the pair, taken in
sorted order so two transactions never wait for each other; on SQLite the database's single write lock, taken by a
first statement that writes nothing. The count reads the index ``(recipient, tag, created_at)``.
:func:`insert_screened` is the step of :meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.add_screened`: the
same, with the opt-out list read by the insert itself.

Upserts are ``INSERT ... ON CONFLICT`` on PostgreSQL and SQLite, the repositories' two databases.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, Final

from sqlalchemy import Connection, Engine, Select, Table, bindparam, delete, false, func, select, text, update

from adapters_sqlalchemy.errors import storage_errors
from adapters_sqlalchemy.tables import OnTable, Tables
from adapters_sqlalchemy.transactions import one_statement
from smscore.guards import OptOut, RecipientLimit, limited_keys, lock_id, unique_chunks, within_limits
from smscore.message import SMSMessage
from smscore.ports import ScreenedOut

__all__ = ["SQLAlchemyOptOutRepository", "SQLAlchemyRefusalCounter", "insert_screened", "insert_within_limits"]

#: Numbers per statement: far below every database's parameter limit.
_CHUNK: Final = 500


def _insert_for(conn: Connection) -> Any:
    """The dialect's ``insert`` that knows ``ON CONFLICT``."""
    # Imported here: loading every PostgreSQL dialect module slows down each command-line start.
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


@functools.cache
def _window_count(m: Table) -> Select[Any]:
    """How many messages of one recipient and tag were created after a time: built once per table."""
    conditions = (
        m.c.recipient == bindparam("recipient"),
        m.c.tag == bindparam("tag"),
        m.c.created_at > bindparam("since", type_=m.c.created_at.type),
    )
    return select(func.count()).select_from(m).where(*conditions)


def insert_within_limits(
    conn: Connection,
    batch: Sequence[SMSMessage],
    *,
    tables: Tables,
    limits: Mapping[str, RecipientLimit],
    insert: Any,
) -> list[SMSMessage | None]:
    """Lock the (recipient, tag) pairs of ``batch``, count, and ``insert(conn, admitted)``; see the module docstring."""
    _lock_pairs(conn, tables.messages, batch, limits)
    allowed = within_limits(batch, limits, _counter(conn, tables.messages))
    admitted = [message for message, ok in zip(batch, allowed, strict=True) if ok]
    written = iter(insert(conn, admitted) if admitted else [])
    return [next(written) if ok else None for ok in allowed]


def insert_screened(
    conn: Connection,
    batch: Sequence[SMSMessage],
    *,
    tables: Tables,
    screened: Sequence[bool],
    limits: Mapping[str, RecipientLimit],
    insert: Callable[[Connection, Sequence[SMSMessage], Sequence[bool]], list[SMSMessage | None]],
) -> list[SMSMessage | ScreenedOut]:
    """The transaction step of :meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.add_screened`.

    Without a limited tag in ``batch`` it is ``insert(conn, batch, screened)`` alone, the statement that leaves
    out listed numbers itself. With one, the pairs are locked as for :func:`insert_within_limits`, the listed
    numbers are left out before counting (a message left out counts toward no limit), and the rest within their
    limits go through the same statement, which also leaves out a number listed since the look-up.
    """
    if not any(message.tag is not None and message.tag in limits for message in batch):
        return [message if message is not None else "opted_out" for message in insert(conn, batch, screened)]
    _lock_pairs(conn, tables.messages, batch, limits)
    listed = _listed_among(
        conn, tables.opt_outs, {m.recipient for m, flag in zip(batch, screened, strict=True) if flag}
    )
    out = [flag and message.recipient in listed for message, flag in zip(batch, screened, strict=True)]
    candidates = [index for index, gone in enumerate(out) if not gone]
    allowed = within_limits([batch[index] for index in candidates], limits, _counter(conn, tables.messages))
    admitted = [index for index, ok in zip(candidates, allowed, strict=True) if ok]
    results: list[SMSMessage | ScreenedOut] = ["opted_out" if gone else "rate_limited" for gone in out]
    if admitted:
        written = insert(conn, [batch[index] for index in admitted], [screened[index] for index in admitted])
        for index, message in zip(admitted, written, strict=True):
            results[index] = message if message is not None else "opted_out"
    return results


def _lock_pairs(conn: Connection, m: Table, batch: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]) -> None:
    """Take the locks that make counting and inserting one step (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        for recipient, tag in limited_keys(batch, limits):
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(recipient, tag)})
    else:
        # SQLite: a write first, so the database's write lock is ours before anything is counted.
        conn.execute(update(m).where(false()).values(version=m.c.version))


def _counter(conn: Connection, m: Table) -> Callable[[str, str, datetime], int]:
    """How many messages of a recipient and tag were created after a time, counted on ``conn``."""

    def stored(recipient: str, tag: str, since: datetime) -> int:
        values = {"recipient": recipient, "tag": tag, "since": since}
        return int(conn.execute(_window_count(m), values).scalar_one())

    return stored


@functools.cache
def _among(t: Table) -> Select[Any]:
    """Which of some numbers are on the list: built once per table."""
    return select(t.c.recipient).where(t.c.recipient.in_(bindparam("numbers", expanding=True)))


def _listed_among(conn: Connection, t: Table, recipients: Collection[str]) -> set[str]:
    """Those of ``recipients`` on the opt-out list in ``t``, one query per :data:`_CHUNK` numbers."""
    numbers = sorted(set(recipients))
    found: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        found.update(conn.execute(_among(t), {"numbers": numbers[start : start + _CHUNK]}).scalars())
    return found


def _row(opt_out: OptOut) -> dict[str, Any]:
    return {
        "recipient": opt_out.recipient,
        "reason": opt_out.reason,
        "source": opt_out.source,
        "created_at": opt_out.created_at,
    }


class SQLAlchemyOptOutRepository(OnTable):
    """A :class:`~smscore.ports.OptOutRepository` in the ``smscore_opt_out`` table (``tables`` as for
    :class:`~adapters_sqlalchemy.SQLAlchemyMessageRepository`). Database failures raise
    :class:`~smscore.errors.StorageError`."""

    table = "opt_outs"

    def add(self, opt_out: OptOut) -> OptOut:
        """See :meth:`smscore.ports.OptOutRepository.add`: one ``INSERT ... ON CONFLICT DO NOTHING``."""
        with storage_errors(), self.engine.begin() as conn:
            self._insert(conn, [opt_out])
            row = conn.execute(select(self._t).where(self._t.c.recipient == opt_out.recipient)).one()
        return _opt_out(row._mapping)

    def add_many(self, opt_outs: Iterable[OptOut]) -> int:
        """See :meth:`smscore.ports.OptOutRepository.add_many`: 500 numbers per statement and transaction."""
        return sum(self._add_chunk(chunk) for chunk in unique_chunks(opt_outs, _CHUNK))

    def _add_chunk(self, chunk: Sequence[OptOut]) -> int:
        with storage_errors(), self.engine.begin() as conn:
            return self._insert(conn, chunk)

    def _insert(self, conn: Connection, chunk: Sequence[OptOut]) -> int:
        t = self._t
        statement = _insert_for(conn)(t).values([_row(o) for o in chunk]).on_conflict_do_nothing()
        return len(conn.execute(statement.returning(t.c.recipient)).all())

    def remove(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.remove`."""
        t = self._t
        with storage_errors(), self.engine.begin() as conn:
            row = conn.execute(delete(t).where(t.c.recipient == recipient).returning(*t.c)).one_or_none()
        return None if row is None else _opt_out(row._mapping)

    def get(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.get`."""
        found = _entries(self.engine, self._t, self._t.c.recipient == recipient, None)
        return found[0] if found else None

    def contains(self, recipient: str) -> bool:
        """See :meth:`smscore.ports.OptOutRepository.contains`: one prepared query (on the path of every send)."""
        with storage_errors(), one_statement(self.engine) as conn:
            return conn.execute(self._one, {"recipient": recipient}).first() is not None

    def among(self, recipients: Collection[str]) -> set[str]:
        """See :meth:`smscore.ports.OptOutRepository.among`: one prepared query per 500 numbers."""
        numbers = set(recipients)
        with storage_errors(), one_statement(self.engine) if len(numbers) <= _CHUNK else self.engine.begin() as conn:
            return _listed_among(conn, self._t, numbers)

    @cached_property
    def _one(self) -> Select[Any]:
        # Built once: building a query costs more than running it on an indexed key.
        return select(self._t.c.recipient).where(self._t.c.recipient == bindparam("recipient"))

    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """See :meth:`smscore.ports.OptOutRepository.list`."""
        t = self._t
        return _entries(self.engine, t, t.c.recipient > after if after is not None else None, limit)

    def count(self) -> int:
        """See :meth:`smscore.ports.OptOutRepository.count`."""
        with storage_errors(), self.engine.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self._t)).scalar_one())


def _entries(engine: Engine, t: Table, condition: Any, limit: int | None) -> list[OptOut]:
    """Entries matching the SQLAlchemy ``condition`` (None: all), by number, at most ``limit``."""
    query = select(t).order_by(t.c.recipient)
    if condition is not None:
        query = query.where(condition)
    if limit is not None:
        query = query.limit(max(limit, 0))
    with storage_errors(), engine.begin() as conn:
        return [_opt_out(row._mapping) for row in conn.execute(query)]


def _opt_out(row: Any) -> OptOut:
    return OptOut(recipient=row["recipient"], reason=row["reason"], source=row["source"], created_at=row["created_at"])


class SQLAlchemyRefusalCounter(OnTable):
    """A :class:`~smscore.ports.RefusalCounter` in the ``smscore_refusal`` table: each total is one row, raised by
    ``INSERT ... ON CONFLICT DO UPDATE SET count = count + n``, so concurrent processes never lose a count."""

    table = "refusals"

    def add(self, counts: Mapping[tuple[str, str | None], int]) -> None:
        """See :meth:`smscore.ports.RefusalCounter.add`."""
        t = self._t
        with storage_errors(), self.engine.begin() as conn:
            upsert = functools.partial(_insert_for(conn), t)
            for (reason, tag), count in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or "")):
                statement = upsert().values(reason=reason, tag=tag or "", count=count)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[t.c.reason, t.c.tag], set_={"count": t.c.count + statement.excluded.count}
                    )
                )

    def totals(self) -> dict[tuple[str, str | None], int]:
        """See :meth:`smscore.ports.RefusalCounter.totals`."""
        t = self._t
        with storage_errors(), self.engine.begin() as conn:
            rows = conn.execute(select(t.c.reason, t.c.tag, t.c.count).where(t.c.count > 0)).all()
        return {(reason, tag or None): int(count) for reason, tag, count in rows}
