"""Message queries: the conditions of a :class:`~smscore.query.MessageQuery`, and their reading on SQLite's driver.

Delivery checks page through the messages in flight, and the command line lists them, with
:meth:`~adapters_sqlalchemy.SQLAlchemyMessageRepository.fetch`. Through ``Connection`` each page costs a statement
built and looked up in SQLAlchemy's compiled cache, and a row object per message on top of what SQLite spends reading
it. :class:`MessageReader` compiles the statement of each shape of query (which filters it sets, how many states)
once, binds the query's values with their columns' own conversions, runs it on the pooled driver connection
(:mod:`adapters_sqlalchemy.driver`) and converts each column of the rows as SQLAlchemy's result converts it.

PostgreSQL reads stay on ``Connection``: how psycopg's numbers are converted depends on the column types the server
reports with each result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Final

from sqlalchemy import Column, ColumnElement, Dialect, Table, bindparam, select

from adapters_sqlalchemy.bulk import Statements
from smscore.message import RelatedObject
from smscore.query import MessageQuery
from smscore.states import SMSState

__all__ = ["Bind", "MessageReader", "literal", "query_conditions", "state_values"]

#: How a query's value enters its statement: the value itself, or a bound parameter standing for it.
Bind = Callable[["Column[Any]", str, Any], Any]

#: Message ids per look-up of related objects (SQLite allows 999 parameters a statement before 3.32).
RELATED_PAGE: Final = 500

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


_Convert = Callable[[Any], Any]


class _Compiled:
    """One shape of query, compiled: its SQL, and the conversions of its parameters and of its rows' columns."""

    def __init__(
        self,
        sql: str,
        parameters: list[tuple[str, _Convert | None]],
        columns: Sequence[str],
        conversions: list[tuple[str, _Convert]],
    ) -> None:
        self.sql = sql
        self._parameters = parameters
        self._columns = tuple(columns)
        self._conversions = conversions

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The statement's parameters, in order, from the values of the query's names."""
        return tuple(values[name] if convert is None else convert(values[name]) for name, convert in self._parameters)

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        """A row of the statement as a dict of converted column values."""
        row = dict(zip(self._columns, values, strict=False))  # the statement selects exactly these columns
        for name, convert in self._conversions:
            row[name] = convert(row[name])
        return row


class MessageReader:
    """Pre-compiled reads of message rows and their related objects on SQLite's driver (see the module docstring).

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

    def fetch(self, conn: Statements, query: MessageQuery) -> list[dict[str, Any]]:
        """The message rows ``query`` selects, as dicts of column values converted as SQLAlchemy converts them;
        the caller has ruled out a query that matches nothing (:attr:`MessageQuery.is_empty`)."""
        values: dict[str, Any] = {}
        types: dict[str, Any] = {}

        def bind(column: Column[Any], name: str, value: Any) -> Any:
            values[name] = value
            types[name] = column.type
            return bindparam(name, type_=column.type)

        # Built for each call (a few objects), so the shape comes from the one place that knows the conditions.
        conditions = query_conditions(self._messages, query, bind)
        shape = (tuple(values), query.newest_first, query.limit is not None)
        compiled = self._shapes.get(shape)
        if compiled is None:
            compiled = self._compile(conditions, types, newest_first=query.newest_first, limited=shape[2])
            if len(self._shapes) >= _SHAPES:
                del self._shapes[next(iter(self._shapes))]
            self._shapes[shape] = compiled
        if query.limit is not None:
            values["limit"] = query.limit
        rows = conn.exec_driver_sql(compiled.sql, compiled.parameters(values)).all()
        return [compiled.row(row) for row in rows]

    def related(self, conn: Statements, ids: Sequence[int]) -> dict[int, list[RelatedObject]]:
        """The related objects of each message in ``ids`` that has any, in their order: one query per
        :data:`RELATED_PAGE` messages."""
        found: dict[int, list[RelatedObject]] = {}
        for start in range(0, len(ids), RELATED_PAGE):
            page = tuple(ids[start : start + RELATED_PAGE])
            # The ids and texts of these columns need no conversion on SQLite.
            for message_id, content_type, object_id in conn.exec_driver_sql(self._related_statement(len(page)), page):
                found.setdefault(message_id, []).append(RelatedObject(content_type, object_id))
        return found

    def _compile(
        self, conditions: list[ColumnElement[bool]], types: dict[str, Any], *, newest_first: bool, limited: bool
    ) -> _Compiled:
        m = self._messages
        statement = select(m).where(*conditions).order_by(m.c.id.desc() if newest_first else m.c.id)
        compiled = statement.compile(dialect=self._dialect)
        dialect = self._dialect
        parameters: list[tuple[str, _Convert | None]] = [
            (name, types[name].dialect_impl(dialect).bind_processor(dialect)) for name in compiled.positiontup or ()
        ]
        sql = compiled.string
        if limited:
            # Appended rather than compiled: SQLAlchemy's LIMIT brings an OFFSET parameter of its own.
            sql += " LIMIT ?"
            parameters.append(("limit", None))
        conversions: list[tuple[str, _Convert]] = []
        for column in statement.selected_columns:
            convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if convert is not None:
                conversions.append((column.name, convert))
        return _Compiled(sql, parameters, [column.name for column in statement.selected_columns], conversions)

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
