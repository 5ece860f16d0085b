"""Message rows written straight through the database driver: the hot paths of ``add_many`` and ``save_many``.

Through ``Connection.execute``, SQLAlchemy rebuilds a cache key, a parameter dictionary per row and a pass of every
value through its type's wrappers on each call; for a one-row write that costs more than the database takes to
store the row. :class:`MessageWriter` does that work once per dialect instead: each statement is compiled once, and
each row becomes one tuple built by attribute lookup and a conversion per column. It is run with
``Connection.exec_driver_sql``, or, with nothing observing the engine, straight on the pooled driver connection
(:mod:`adapters_sqlalchemy.driver`), which raises the same errors.

Values are converted with the columns' own bind processors, except UTC datetimes on SQLite, which are formatted in
one step into exactly the text SQLAlchemy stores (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC): SQLite compares
datetimes as text, so the format must never differ between the rows written here and those written elsewhere.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final, Protocol, cast

from sqlalchemy import Column, Connection, Dialect, String, Table, Update

from adapters_sqlalchemy.driver import DriverConnection
from adapters_sqlalchemy.types import UTCDateTime
from smscore.message import SMSMessage

__all__ = ["MAX_INSERT_ROWS", "MessageWriter", "Statements", "sqlite_datetime", "sqlite_datetime_converter"]

#: Most rows in one multi-row ``INSERT`` (SQLAlchemy's own page size for the same job).
MAX_INSERT_ROWS: Final = 1000

#: SQLite's bound-parameter limit when the driver cannot tell (builds before 3.32 allow 999).
_DEFAULT_SQLITE_VARIABLES: Final = 999

_Convert = Callable[[Any], Any]


class StatementRows(Protocol):
    """What a statement run by :class:`Statements` returns (a subset of SQLAlchemy's ``CursorResult``)."""

    @property
    def rowcount(self) -> int:
        """The rows the statement matched or changed."""

    def all(self) -> Sequence[Any]:
        """Every row returned."""

    def __iter__(self) -> Iterator[Any]:
        """The rows returned, in order."""


class Statements(Protocol):
    """Where :class:`MessageWriter` runs its statements: SQLAlchemy's ``Connection``, or a
    :class:`~adapters_sqlalchemy.driver.DriverConnection`."""

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> StatementRows:
        """Run ``statement`` once with a parameter tuple (or dict), or once per item of a list of them."""


def sqlite_datetime(value: datetime | None, name: str = "datetime") -> str | None:
    """``value`` as SQLite stores a :class:`~adapters_sqlalchemy.types.UTCDateTime`: naive UTC text with
    microseconds. Raises ``ValueError`` naming ``name`` for a naive datetime (its meaning would depend on the
    machine's zone)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        _require_aware(value, name)
        value = value.astimezone(UTC)
    # Cutting "+00:00" off is the cheapest way to the naive text (this runs for five columns of every row).
    return value.isoformat(" ", "microseconds")[:-6]


def sqlite_datetime_converter(name: str) -> Callable[[datetime | None], str | None]:
    """:func:`sqlite_datetime` for column ``name``, remembering its last answer.

    The rows of one batch mostly share their times (a chunk's reports are applied at one instant, a batch is
    created at one), and formatting is the costliest step of a row. Equal aware datetimes are the same instant
    and so the same UTC text; a naive value never equals an aware one, so it still reaches the check.
    """
    last: list[tuple[datetime | None, str | None]] = [(None, None)]

    def convert(value: datetime | None) -> str | None:
        # One tuple read and one written: threads sharing the writer can only see a matching pair.
        seen, text = last[0]
        if value is not None and value == seen:
            return text
        text = sqlite_datetime(value, name)
        last[0] = (value, text)
        return text

    return convert


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not {value.isoformat()}")


def _read_path(name: str) -> str:
    """Where column ``name``'s value is found on a message (the state column holds the enum's text)."""
    return "state.value" if name == "state" else name


def _as_dict(convert: _Convert | None) -> _Convert:
    """JSON columns take a plain dict (the serializer refuses other mappings)."""
    if convert is None:
        return dict
    json_convert = convert
    return lambda value: json_convert(value if type(value) is dict else dict(value))


def _converter(column: Column[Any], dialect: Dialect) -> _Convert | None:
    name = column.name
    processor: _Convert | None = column.type.dialect_impl(dialect).bind_processor(dialect)
    if not isinstance(column.type, UTCDateTime):
        return processor
    if dialect.name == "sqlite":
        return sqlite_datetime_converter(name)
    if processor is None:  # pragma: no cover - UTCDateTime always has one
        raise TypeError(f"column {name} has no bind processor")
    convert = processor

    def aware(value: datetime | None) -> Any:
        if value is not None:
            _require_aware(value, name)
        return convert(value)

    return aware


class _RowBuilder:
    """Turns a message into the parameter values of some columns, in order, converted for one dialect."""

    def __init__(self, table: Table, names: Sequence[str], dialect: Dialect) -> None:
        self.names = tuple(names)
        # Every value in one C call, then a conversion only where a column needs one.
        getter = attrgetter(*(_read_path(name) for name in self.names))
        # attrgetter of one name returns the value itself, not a 1-tuple.
        self._read: Callable[[SMSMessage], tuple[Any, ...]] = (
            getter if len(self.names) > 1 else (lambda message: (getter(message),))
        )
        self._conversions: list[tuple[int, _Convert]] = []
        for index, name in enumerate(self.names):
            convert = _converter(table.c[name], dialect)
            if name in {"extra_data", "extra_sender_data"}:
                convert = _as_dict(convert)
            if convert is not None:
                self._conversions.append((index, convert))

    def values(self, message: SMSMessage) -> list[Any]:
        row = list(self._read(message))
        for index, convert in self._conversions:
            row[index] = convert(row[index])
        return row


class MessageWriter:
    """Pre-compiled writes of message rows for the dialect of one engine.

    ``insert_columns`` are the columns :meth:`insert` writes (all but the id); ``update`` is the compare-and-set
    statement that :meth:`update` runs, with bind parameters ``new_<column>`` for each of ``update_columns`` and
    ``old_id`` / ``old_version``. ``opt_outs`` is the opt-out table :meth:`insert_screened` looks numbers up in.
    """

    def __init__(
        self,
        table: Table,
        dialect: Dialect,
        *,
        insert_columns: Sequence[str],
        update: Update,
        update_columns: Sequence[str],
        opt_outs: Table,
    ) -> None:
        self.dialect = dialect
        self._insert_row = _RowBuilder(table, insert_columns, dialect)
        preparer = dialect.identifier_preparer
        columns = ", ".join(preparer.format_column(table.c[name]) for name in insert_columns)
        self._insert_head = f"INSERT INTO {preparer.format_table(table)} ({columns}) VALUES "
        self._insert_tail = f" RETURNING {preparer.format_column(table.c.id)}"
        self._row_marks = "(" + ", ".join("?" * len(insert_columns)) + ")"
        self._insert_sql: dict[int, str] = {}
        self._variables: int | None = None
        # SQLite names the columns of a VALUES list column1, column2, ...; the last one is the screening flag.
        recipient = insert_columns.index("recipient") + 1
        listed = _listed(opt_outs, dialect, f"column{recipient}")
        self._screened_head = (
            f"INSERT INTO {preparer.format_table(table)} ({columns}) "
            f"SELECT {', '.join(f'column{i}' for i in range(1, len(insert_columns) + 1))} FROM (VALUES "
        )
        self._screened_tail = (
            f") WHERE NOT (column{len(insert_columns) + 1} AND {listed}) "
            f"RETURNING {preparer.format_column(table.c.id)}, {preparer.format_column(table.c.recipient)}"
        )
        self._screened_marks = "(" + ", ".join("?" * (len(insert_columns) + 1)) + ")"
        self._screened_sql: dict[int, str] = {}
        postgresql = dialect.name == "postgresql"
        self._unnest_sql = _unnest_insert(table, insert_columns, dialect) if postgresql else ""
        self._unnest_screened_sql = _unnest_insert(table, insert_columns, dialect, opt_outs) if postgresql else ""
        self._one_row_sql = _unnest_insert(table, insert_columns, dialect, one_row=True) if postgresql else ""
        self._one_row_screened_sql = (
            _unnest_insert(table, insert_columns, dialect, opt_outs, one_row=True) if postgresql else ""
        )
        self._unnest_update_sql = _unnest_update(table, update_columns, dialect) if postgresql else ""

        compiled = update.compile(dialect=dialect)
        self._update_sql = compiled.string
        self._update_row = _RowBuilder(table, update_columns, dialect)
        order = {f"new_{name}": index for index, name in enumerate(update_columns)}
        order.update(old_id=len(update_columns), old_version=len(update_columns) + 1)
        self._update_names = sorted(order, key=order.__getitem__)
        # The driver's order of the parameters, as positions in the values a row builder returns.
        positions = compiled.positiontup if compiled.positional else None
        self._update_positions = None if positions is None else [order[name] for name in positions]
        # Usually the statement's own order: the values are then passed as built.
        self._update_in_order = self._update_positions == list(range(len(order)))

    @property
    def can_insert(self) -> bool:
        """Whether :meth:`insert` serves this dialect (SQLite and PostgreSQL; elsewhere SQLAlchemy's own bulk
        insert is used)."""
        return self.dialect.name in {"sqlite", "postgresql"}

    def insert(self, conn: Statements, messages: Sequence[SMSMessage]) -> list[int]:
        """Insert ``messages`` (SQLite or PostgreSQL) and return their new ids in the order given."""
        if self._unnest_sql:
            if len(messages) == 1:
                row = conn.exec_driver_sql(self._one_row_sql, tuple(self._insert_row.values(messages[0]))).all()[0]
                return [row[0]]
            return self._insert_unnest(conn, messages)
        per_statement = self._rows_per_statement(conn)
        ids: list[int] = []
        for start in range(0, len(messages), per_statement):
            part = messages[start : start + per_statement]
            flat: list[Any] = []
            for message in part:
                flat.extend(self._insert_row.values(message))
            found = [
                row[0] for row in conn.exec_driver_sql(self._insert_statement(len(part), per_statement), tuple(flat))
            ]
            # SQLite gives no order for RETURNING rows. But it inserts VALUES rows in order, each with a larger
            # id than any before (the table is AUTOINCREMENT), so the ids sorted are in parameter order.
            ids.extend(sorted(found))
        return ids

    def _rows_per_statement(self, conn: Statements, extra: int = 0) -> int:
        """Most rows of one SQLite ``INSERT`` with ``extra`` parameters per row besides its columns."""
        if self._variables is None:
            # The limit is the SQLite library's, the same for every connection: read once.
            self._variables = _sqlite_variables(conn)
        return min(MAX_INSERT_ROWS, max(1, self._variables // (len(self._insert_row.names) + extra)))

    def insert_screened(
        self, conn: Statements, messages: Sequence[SMSMessage], screened: Sequence[bool]
    ) -> list[int | None]:
        """Insert ``messages`` (SQLite or PostgreSQL) except those whose entry in ``screened`` is true and whose
        recipient is on the opt-out list, each page in one statement: the look-up and the insert see the same
        list. The new ids in the order given, None for each message left out."""
        if self._unnest_screened_sql:
            if len(messages) == 1:
                row = (*self._insert_row.values(messages[0]), bool(screened[0]))
                return _screened_ids(messages, screened, conn.exec_driver_sql(self._one_row_screened_sql, row).all())
            return self._insert_unnest_screened(conn, messages, screened)
        per_statement = self._rows_per_statement(conn, extra=1)
        ids: list[int | None] = []
        for start in range(0, len(messages), per_statement):
            part = messages[start : start + per_statement]
            flags = screened[start : start + per_statement]
            flat: list[Any] = []
            for message, flag in zip(part, flags, strict=True):
                flat.extend(self._insert_row.values(message))
                flat.append(1 if flag else 0)
            sql = self._insert_statement(len(part), per_statement, screened=True)
            ids.extend(_screened_ids(part, flags, conn.exec_driver_sql(sql, tuple(flat)).all()))
        return ids

    def _insert_unnest(self, conn: Statements, messages: Sequence[SMSMessage]) -> list[int]:
        """PostgreSQL: one ``INSERT ... SELECT FROM unnest(...)`` per page, each column's values one array."""
        ids: list[int] = []
        for start in range(0, len(messages), MAX_INSERT_ROWS):
            columns = self._columns(messages[start : start + MAX_INSERT_ROWS])
            # The rows are inserted in ORDER BY order, so the sequence hands out ascending ids in that order;
            # RETURNING gives no order of its own (SQLAlchemy sorts its insertmanyvalues ids the same way).
            ids.extend(sorted(row[0] for row in conn.exec_driver_sql(self._unnest_sql, tuple(columns))))
        return ids

    def _insert_unnest_screened(
        self, conn: Statements, messages: Sequence[SMSMessage], screened: Sequence[bool]
    ) -> list[int | None]:
        """PostgreSQL's :meth:`insert_screened`: :meth:`_insert_unnest` with one more array, the flags."""
        ids: list[int | None] = []
        for start in range(0, len(messages), MAX_INSERT_ROWS):
            page, flags = messages[start : start + MAX_INSERT_ROWS], list(screened[start : start + MAX_INSERT_ROWS])
            returned = conn.exec_driver_sql(self._unnest_screened_sql, (*self._columns(page), flags)).all()
            ids.extend(_screened_ids(page, flags, returned))
        return ids

    def _columns(self, page: Sequence[SMSMessage]) -> list[list[Any]]:
        """The insert values of ``page`` as one list per column (PostgreSQL's arrays)."""
        return [list(values) for values in zip(*map(self._insert_row.values, page), strict=True)]

    def update(self, conn: Statements, messages: Sequence[SMSMessage]) -> int:
        """Run the compare-and-set update for each message; return how many rows matched."""
        if len(messages) > 1 and self._unnest_update_sql:
            return self._update_unnest(conn, messages)
        rows = [self._update_params(message) for message in messages]
        if len(rows) == 1:
            return int(conn.exec_driver_sql(self._update_sql, rows[0]).rowcount)
        if self.dialect.supports_sane_multi_rowcount:
            return int(conn.exec_driver_sql(self._update_sql, rows).rowcount)
        return sum(int(conn.exec_driver_sql(self._update_sql, row).rowcount) for row in rows)

    def _update_unnest(self, conn: Statements, messages: Sequence[SMSMessage]) -> int:
        """PostgreSQL: one ``UPDATE ... FROM unnest(...)`` per page, where an executemany sends a statement per
        message. A message given twice matches once (its version moved on), so a shortfall still shows."""
        build = self._update_row.values
        matched = 0
        for start in range(0, len(messages), MAX_INSERT_ROWS):
            page = messages[start : start + MAX_INSERT_ROWS]
            columns = [list(values) for values in zip(*(build(message) for message in page), strict=True)]
            columns.append([message.id for message in page])
            columns.append([message.version for message in page])
            matched += int(conn.exec_driver_sql(self._unnest_update_sql, tuple(columns)).rowcount)
        return matched

    def _update_params(self, message: SMSMessage) -> tuple[Any, ...] | dict[str, Any]:
        values = self._update_row.values(message)
        values.append(message.id)
        values.append(message.version)
        if self._update_in_order:
            return tuple(values)
        if self._update_positions is not None:
            return tuple([values[i] for i in self._update_positions])
        return dict(zip(self._update_names, values, strict=True))

    def _insert_statement(self, rows: int, per_statement: int, *, screened: bool = False) -> str:
        """The SQLite insert of ``rows`` rows (:meth:`insert`, or :meth:`insert_screened` with ``screened``)."""
        cache = self._screened_sql if screened else self._insert_sql
        sql = cache.get(rows)
        if sql is None:
            head, marks, tail = (
                (self._screened_head, self._screened_marks, self._screened_tail)
                if screened
                else (self._insert_head, self._row_marks, self._insert_tail)
            )
            sql = head + ", ".join([marks] * rows) + tail
            # Only the two sizes that recur (one row: ``send``; a full page: ``send_many``) are kept.
            if rows in (1, per_statement):
                cache[rows] = sql
        return sql


def _screened_ids(
    messages: Sequence[SMSMessage], screened: Sequence[bool], returned: Sequence[Any]
) -> list[int | None]:
    """The ids of a screened insert in the order of ``messages``, None for each left out, from the ``(id,
    recipient)`` rows it returned. Within one statement a number is listed or not for all its rows, so a number
    returned fewer times than given is listed, and every screened row of it was left out. The rows went in in
    order, each with a larger id than the one before (as for :meth:`MessageWriter.insert`)."""
    if len(returned) == len(messages):
        return sorted(row[0] for row in returned)  # nothing left out: the common case, without counting
    given = Counter(message.recipient for message in messages)
    got = Counter(row[1] for row in returned)
    listed = {number for number, count in given.items() if got[number] < count}
    ids = iter(sorted(row[0] for row in returned))
    return [
        None if flag and message.recipient in listed else next(ids)
        for message, flag in zip(messages, screened, strict=True)
    ]


def _listed(opt_outs: Table, dialect: Dialect, recipient: str) -> str:
    """SQL that is true when the number in the expression ``recipient`` is on the opt-out list."""
    preparer = dialect.identifier_preparer
    name = preparer.format_table(opt_outs)
    return f"EXISTS (SELECT 1 FROM {name} WHERE {name}.{preparer.format_column(opt_outs.c.recipient)} = {recipient})"


def _unnest_insert(
    table: Table, names: Sequence[str], dialect: Dialect, opt_outs: Table | None = None, *, one_row: bool = False
) -> str:
    """PostgreSQL's insert of many rows in one statement of constant text: a parameter per column, an array of
    every row's value. The statement is short and the same for every batch, so the driver parses it once and
    prepares it, where a multi-row ``VALUES`` of a thousand rows is parsed again on every call.

    ``one_row``: the same insert of a single row, a plain value per parameter (a ``send``), which spares the driver
    building an array per column. With ``opt_outs``, a last array (or value) of flags says which rows to leave out
    when their number is on that list, and the statement returns each new row's id and recipient (see
    :meth:`MessageWriter.insert_screened`)."""
    preparer = dialect.identifier_preparer
    columns = [table.c[name] for name in names]
    types = [_array_type(column, dialect) for column in columns]
    aliases = [f"p{index}" for index in range(len(columns))]
    screened = opt_outs is not None
    flag = ", screened" if screened else ""
    if one_row:
        values = ", ".join(f"%b::{type_}" for type_ in types) + (", %b::BOOLEAN" if screened else "")
        source, order = f"(VALUES ({values})) AS rows({', '.join(aliases)}{flag})", ""
    else:
        arrays = ", ".join(f"%b::{type_}[]" for type_ in types) + (", %b::BOOLEAN[]" if screened else "")
        source, order = f"unnest({arrays}) WITH ORDINALITY AS rows({', '.join(aliases)}{flag}, n)", " ORDER BY n"
    key = preparer.format_column(table.c.id)
    head = (
        f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.format_column(c) for c in columns)}) "
        f"SELECT {', '.join(aliases)} FROM {source}"
    )
    if opt_outs is None:
        return f"{head}{order} RETURNING {key}"
    listed = _listed(opt_outs, dialect, f"rows.{aliases[list(names).index('recipient')]}")
    return f"{head} WHERE NOT (rows.screened AND {listed}){order} RETURNING {key}, {preparer.format_column(table.c.recipient)}"


def _array_type(column: Column[Any], dialect: Dialect) -> str:
    """The element type of a PostgreSQL array of ``column``'s values: unbounded text where the column has a
    length (a cast to VARCHAR(n) would cut an over-long value, where the column refuses it)."""
    return "VARCHAR" if isinstance(column.type.dialect_impl(dialect), String) else column.type.compile(dialect)


def _unnest_update(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    """PostgreSQL's compare-and-set update of many rows in one statement of constant text: an array per column,
    then the arrays of the old ids and versions; the version is bumped."""
    preparer = dialect.identifier_preparer
    name = preparer.format_table(table)
    columns = [table.c[column] for column in names]
    arrays = ", ".join(f"%b::{_array_type(column, dialect)}[]" for column in columns)
    aliases = [f"p{index}" for index in range(len(columns))]
    assignments = ", ".join(f"{preparer.format_column(c)} = rows.{a}" for c, a in zip(columns, aliases, strict=True))
    version, key = preparer.format_column(table.c.version), preparer.format_column(table.c.id)
    return (
        f"UPDATE {name} SET {assignments}, {version} = {name}.{version} + 1 "
        f"FROM unnest({arrays}, %b::BIGINT[], %b::INTEGER[]) AS rows({', '.join(aliases)}, old_id, old_version) "
        f"WHERE {name}.{key} = rows.old_id AND {name}.{version} = rows.old_version"
    )


def _sqlite_variables(conn: Statements) -> int:
    """How many bound parameters this SQLite connection allows in one statement."""
    if isinstance(conn, DriverConnection):
        return _variable_limit(conn.dbapi_connection)
    conn = cast(Connection, conn)  # the only other kind of Statements
    if conn.dialect.is_async:
        # aiosqlite's connection lives in a thread of its own and cannot be asked from here. It runs on the same
        # library, and a new connection has the library's limit.
        with closing(sqlite3.connect(":memory:")) as library:
            return _variable_limit(library)
    return _variable_limit(conn.connection.dbapi_connection)


def _variable_limit(raw: Any) -> int:
    try:
        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):
        return _DEFAULT_SQLITE_VARIABLES
