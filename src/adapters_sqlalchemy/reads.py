"""Message queries: the conditions of a :class:`~smscore.query.MessageQuery`, and their reading (and the outbox
claim, which returns whole rows) on SQLite's driver.

Delivery checks page through the messages in flight, and the command line lists them, with
:meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.fetch`; outbox workers take their messages with
:meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.claim`. Through ``Connection`` each statement costs its
building and a look-up in SQLAlchemy's compiled cache, and a row object per message on top of what SQLite spends
reading it. :class:`MessageReader` compiles each shape of query (which filters it sets, how many states) and each
priority's claim once, binds the values with their columns' own conversions, runs the statement on the pooled
driver connection (:mod:`adapters_sqlalchemy.driver`) and converts each column of the rows as SQLAlchemy's result
converts it, parsing each distinct time once per statement.

PostgreSQL reads stay on ``Connection``: how psycopg's numbers are converted depends on the column types the server
reports with each result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import ClauseElement, Column, ColumnElement, Dialect, Table, bindparam, select
from sqlalchemy.sql.compiler import SQLCompiler

from adapters_sqlalchemy.bulk import Statements
from adapters_sqlalchemy.claims import claim_statement, highest_priority_first
from adapters_sqlalchemy.types import UTCDateTime
from smscore.message import PRIORITIES, RelatedObject
from smscore.query import MessageQuery
from smscore.states import SMSState

__all__ = [
    "IN_LIST_SIZE",
    "Bind",
    "MessageReader",
    "literal",
    "query_conditions",
    "related_by_message",
    "state_values",
]

#: How a query's value enters its statement: the value itself, or a bound parameter standing for it.
Bind = Callable[["Column[Any]", str, Any], Any]

#: Most ids in one ``IN (...)`` list, a page of related-object look-ups among them: far below every database's
#: parameter limit (SQLite allows 999 a statement before 3.32).
IN_LIST_SIZE: Final = 500

#: Compiled statements kept per reader; past it the oldest shape is compiled again when asked for.
_SHAPES: Final = 64


def state_values(states: Collection[SMSState]) -> list[str]:
    """The stored values of ``states``, in a stable order."""
    return sorted(SMSState(state).value for state in states)


def literal(column: Column[Any], name: str, value: Any) -> Any:
    """The :data:`Bind` that puts each value in the statement as it is."""
    return value


def query_conditions(table: Table, query: MessageQuery, bind: Bind = literal) -> list[ColumnElement[bool]]:
    """The ``WHERE`` conditions of ``query`` on the message ``table``; each value goes through ``bind``."""
    c = table.c
    conditions: list[ColumnElement[bool]] = []
    if query.states is not None:
        states = [bind(c.state, f"state_{i}", value) for i, value in enumerate(state_values(query.states))]
        conditions.append(c.state.in_(states))
    if query.after_id:
        conditions.append(c.id > bind(c.id, "after_id", query.after_id))
    for name, value in (("tag", query.tag), ("recipient", query.recipient), ("provider", query.provider)):
        if value is not None:
            conditions.append(c[name] == bind(c[name], name, value))
    if query.sent_before is not None:
        conditions.append(c.sent_at < bind(c.sent_at, "sent_before", query.sent_before))
    if query.sent_after is not None:
        conditions.append(c.sent_at >= bind(c.sent_at, "sent_after", query.sent_after))
    if query.changed_before is not None:
        conditions.append(c.changed_at < bind(c.changed_at, "changed_before", query.changed_before))
    return conditions


def related_by_message(pages: Iterable[Iterable[Any]]) -> dict[int, list[RelatedObject]]:
    """The related objects of each message that has any, in their order, from pages of ``(message_id,
    content_type, object_id)`` rows ordered by message and position."""
    found: dict[int, list[RelatedObject]] = {}
    for page in pages:
        for message_id, content_type, object_id in page:
            found.setdefault(message_id, []).append(RelatedObject(content_type, object_id))
    return found


_Convert = Callable[[Any], Any]

#: What a look-up finds for a text not parsed yet (None is a parsed value: a NULL time).
_UNSEEN: Final = object()


class _Compiled:
    """One statement compiled for SQLite's driver: its SQL, the conversions of its parameters, the values of those
    it fixes itself, and the conversions of its rows' columns."""

    def __init__(self, statement: ClauseElement, columns: Sequence[Column[Any]], dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        binds = compiled.binds
        self.sql = compiled.string
        self._parameters: list[tuple[str, _Convert | None]] = [
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]
        # The statement's own literals (a state, a priority, an OFFSET); the caller names the rest.
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        self._columns = tuple(column.name for column in columns)
        self._conversions: list[tuple[str, _Convert]] = []
        self._times: list[tuple[str, _Convert]] = []
        for column in columns:
            convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if convert is not None:
                times = isinstance(column.type, UTCDateTime)
                (self._times if times else self._conversions).append((column.name, convert))

    def limited(self) -> None:
        """End the statement with ``LIMIT`` the value named ``limit``: appended rather than compiled, as
        SQLAlchemy's ``LIMIT`` brings an ``OFFSET`` parameter of its own."""
        self.sql += " LIMIT ?"
        self._parameters.append(("limit", None))

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The statement's parameters, in order, from ``values`` by name and the statement's own."""
        values = {**self._fixed, **values}
        return tuple(values[name] if convert is None else convert(values[name]) for name, convert in self._parameters)

    def rows(self, conn: Statements, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the statement with ``values``; its rows as dicts of converted column values."""
        found = conn.exec_driver_sql(self.sql, self.parameters(values)).all()
        columns, conversions = self._columns, self._conversions
        # The rows of one statement mostly share their times (a batch is created at one instant, a claim leases
        # to one), and a datetime is immutable: each distinct text is parsed once per statement.
        times: list[tuple[str, _Convert, dict[Any, Any]]] = [(name, convert, {}) for name, convert in self._times]
        rows = []
        for values_of_row in found:
            row = dict(zip(columns, values_of_row, strict=False))  # the statement returns exactly these columns
            for name, convert in conversions:
                row[name] = convert(row[name])
            for name, convert, parsed in times:
                text = row[name]
                value = parsed.get(text, _UNSEEN)
                if value is _UNSEEN:
                    value = parsed[text] = convert(text)
                row[name] = value
            rows.append(row)
        return rows


class MessageReader:
    """Pre-compiled reads of message rows and their related objects on SQLite's driver, and the outbox claim that
    returns them (see the module docstring).

    ``messages`` and ``related`` are the tables; ``dialect`` SQLite's, with its ``qmark`` parameters.
    """

    def __init__(self, messages: Table, related: Table, dialect: Dialect) -> None:
        if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
            raise ValueError(f"MessageReader reads SQLite with qmark parameters, not {dialect.name}")
        self._messages = messages
        self._related = related
        self._dialect = dialect
        self._shapes: dict[tuple[Any, ...], _Compiled] = {}
        self._related_sql: dict[int, str] = {}
        self._claims = {
            priority: _Compiled(claim_statement(messages, priority, sqlite=True), list(messages.c), dialect)
            for priority in PRIORITIES
        }

    def fetch(self, conn: Statements, query: MessageQuery) -> list[dict[str, Any]]:
        """The message rows ``query`` selects, as dicts of column values converted as SQLAlchemy converts them;
        the caller has ruled out a query that matches nothing (:attr:`MessageQuery.is_empty`)."""
        values: dict[str, Any] = {}

        def bind(column: Column[Any], name: str, value: Any) -> Any:
            values[name] = value
            return bindparam(name, type_=column.type)

        # Built for each call (a few objects), so the shape comes from the one place that knows the conditions.
        conditions = query_conditions(self._messages, query, bind)
        shape = (tuple(values), query.newest_first, query.limit is not None)
        compiled = self._shapes.get(shape)
        if compiled is None:
            m = self._messages
            statement = select(m).where(*conditions).order_by(m.c.id.desc() if query.newest_first else m.c.id)
            compiled = _Compiled(statement, list(m.c), self._dialect)
            if query.limit is not None:
                compiled.limited()
            if len(self._shapes) >= _SHAPES:
                del self._shapes[next(iter(self._shapes))]
            self._shapes[shape] = compiled
        if query.limit is not None:
            values["limit"] = query.limit
        return compiled.rows(conn, values)

    def claim(self, conn: Statements, *, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        """:func:`~adapters_sqlalchemy.claims.claim_rows` on the driver: the whole rows of up to ``limit`` due
        messages leased until ``lease_until``, converted as :meth:`fetch` converts them. Run it in the driver
        transaction that hands them over."""

        def lease(priority: int, count: int) -> list[dict[str, Any]]:
            return self._claims[priority].rows(conn, {"now": now, "lease_until": lease_until, "limit": count})

        return highest_priority_first(lease, limit)

    def related(self, conn: Statements, ids: Sequence[int]) -> dict[int, list[RelatedObject]]:
        """The related objects of each message in ``ids`` that has any, in their order: one query per
        :data:`IN_LIST_SIZE` messages."""
        pages = (tuple(ids[start : start + IN_LIST_SIZE]) for start in range(0, len(ids), IN_LIST_SIZE))
        # The ids and texts of these columns need no conversion on SQLite.
        return related_by_message(conn.exec_driver_sql(self._related_statement(len(page)), page) for page in pages)

    def _related_statement(self, count: int) -> str:
        sql = self._related_sql.get(count)
        if sql is None:
            r = self._related
            statement = (
                select(r.c.message_id, r.c.content_type, r.c.object_id)
                .where(r.c.message_id.in_([bindparam(f"id_{i}", type_=r.c.message_id.type) for i in range(count)]))
                .order_by(r.c.message_id, r.c.position)
            )
            sql = statement.compile(dialect=self._dialect).string
            if len(self._related_sql) >= _SHAPES:
                del self._related_sql[next(iter(self._related_sql))]
            self._related_sql[count] = sql
        return sql
