"""The storage ports on SQLAlchemy Core: :class:`SQLAlchemyMessageRepository` and
:class:`SQLAlchemyTemplateRepository`.

Every method runs in one transaction of its own. Writes are set-based: :meth:`~SQLAlchemyMessageRepository.add_many`
is one multi-row ``INSERT ... RETURNING id`` (plus one for related objects), ``save_many`` one executemany
``UPDATE ... WHERE id = ? AND version = ?`` whose row count proves that no one else wrote in between, and reads
load the related objects of a whole page with one extra query (related objects are written once, by
``add``; a save leaves them as stored). The idempotency key is guarded by a unique
constraint, never by a read before the write. The message ``INSERT`` (on SQLite) and the ``UPDATE`` are compiled
once and run through the driver by :class:`~adapters_sqlalchemy.bulk.MessageWriter`: on the path of every send.
They run on the pooled driver connection itself when nothing watches the engine (:mod:`adapters_sqlalchemy.driver`),
as do ``fetch``'s pages on SQLite (:mod:`adapters_sqlalchemy.reads`).

``claim`` takes due messages without two workers ever getting the same one (:mod:`adapters_sqlalchemy.claims`).

Supported databases: PostgreSQL (psycopg 3) and SQLite 3.35 or later (both have ``RETURNING``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

import attrs
from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from adapters_sqlalchemy.bulk import MAX_INSERT_ROWS, MessageWriter, Statements
from adapters_sqlalchemy.claims import claim_rows
from adapters_sqlalchemy.driver import driver_transaction
from adapters_sqlalchemy.errors import reason, storage_errors
from adapters_sqlalchemy.mapping import (
    MESSAGE_COLUMNS,
    message_from_row,
    message_to_row,
    related_object_rows,
    template_from_row,
)
from adapters_sqlalchemy.reads import IN_LIST_SIZE, MessageReader, query_conditions, related_by_message, state_values
from adapters_sqlalchemy.tables import Tables
from adapters_sqlalchemy.tables import tables as default_tables
from adapters_sqlalchemy.transactions import one_statement
from smscore.errors import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    StorageError,
    TemplateNotFoundError,
)
from smscore.guards import RecipientLimit
from smscore.message import RelatedObject, SMSMessage
from smscore.ports import MessageRepository, OptOutRepository, ScreenedOut, check_new_batch
from smscore.query import MessageQuery
from smscore.rows import SAVED_FIELDS
from smscore.states import SMSState
from smscore.templates import SMSTemplate, TemplateRenderer, default_renderer

__all__ = ["SQLAlchemyMessageRepository", "SQLAlchemyTemplateRepository"]

_T = TypeVar("_T")
_S = TypeVar("_S", bound=Statements)


class _Shortfall(Exception):
    """A compare-and-set update matched fewer rows than it was given (raised to roll the transaction back)."""


def _chunks(values: Sequence[_T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not {value.isoformat()}")
    return value


class SQLAlchemyMessageRepository(MessageRepository):
    """A :class:`~smscore.ports.MessageRepository` in SQL tables, through a SQLAlchemy ``Engine``.

    ``tables`` are the tables to use (by default the package's own, see :mod:`adapters_sqlalchemy.tables`); pass
    the result of :func:`~adapters_sqlalchemy.define_tables` when they live on the application's metadata. The
    schema must exist (see :mod:`adapters_sqlalchemy.schema`). Database failures raise
    :class:`~smscore.errors.StorageError` (:class:`~adapters_sqlalchemy.errors.DatabaseUnavailableError` when the
    database is locked or unreachable); the port's own errors are raised as the port documents.
    """

    def __init__(self, engine: Engine, *, tables: Tables | None = None) -> None:
        self.engine = engine
        self.tables = tables or default_tables
        self._m = self.tables.messages
        self._r = self.tables.related_objects

    # -- writes ------------------------------------------------------------------------------------------

    def add(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.add`."""
        return self.add_many([message])[0]

    def add_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.add_many`.

        Raises ``ValueError`` for a message that already has an id or a key given twice in the batch.
        """
        batch = list(messages)
        if not batch:
            return []
        check_new_batch(batch)
        # Related objects are written by SQLAlchemy's own insert; without them the writer's statements are all.
        plain = not any(message.related_objects for message in batch)
        alone = plain and len(batch) <= MAX_INSERT_ROWS
        if plain and (driver := driver_transaction(self.engine, single=alone)) is not None:
            return self._write_new(batch, self._insert_rows, driver)
        return self._write_new(batch, self._insert, self._transaction(alone))

    def add_within_limits(
        self, messages: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | None]:
        """See :meth:`smscore.ports.MessageRepository.add_within_limits` (and :mod:`adapters_sqlalchemy.guards`)."""
        from adapters_sqlalchemy.guards import insert_within_limits

        batch = list(messages)
        if not batch:
            return []
        check_new_batch(batch)
        step = functools.partial(insert_within_limits, tables=self.tables, limits=limits, insert=self._insert)
        return self._write_new(batch, step, self.engine.begin())

    def screens(self, opt_outs: OptOutRepository) -> bool:
        """See :meth:`smscore.ports.OptOutScreening.screens`: ``opt_outs`` is this package's opt-out repository on
        the same engine and opt-out table, on SQLite or PostgreSQL (whose inserts :class:`MessageWriter` writes)."""
        from adapters_sqlalchemy.guards import SQLAlchemyOptOutRepository

        return (
            self._writer.can_insert
            and isinstance(opt_outs, SQLAlchemyOptOutRepository)
            and opt_outs.kept_in(self.engine, self.tables.opt_outs)
        )

    def add_screened(
        self, messages: Sequence[SMSMessage], screened: Sequence[bool], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | ScreenedOut]:
        """See :meth:`smscore.ports.OptOutScreening.add_screened` (and :mod:`adapters_sqlalchemy.guards`): without
        recipient limits, one ``INSERT ... SELECT ... WHERE NOT EXISTS`` per page of rows."""
        from adapters_sqlalchemy.guards import insert_screened

        batch, flags = list(messages), list(screened)
        if len(flags) != len(batch):
            raise ValueError(f"{len(batch)} messages but {len(flags)} screening flags")
        if not batch:
            return []
        check_new_batch(batch)
        limited = any(message.tag is not None and message.tag in limits for message in batch)
        plain = not limited and not any(message.related_objects for message in batch)
        alone = plain and len(batch) <= MAX_INSERT_ROWS
        if plain and (driver := driver_transaction(self.engine, single=alone)) is not None:

            def insert_rows(conn: Statements, batch: list[SMSMessage]) -> list[SMSMessage | ScreenedOut]:
                stored = self._insert_screened_rows(conn, batch, flags)
                return [message if message is not None else "opted_out" for message in stored]

            return self._write_new(batch, insert_rows, driver)
        step = functools.partial(
            insert_screened, tables=self.tables, screened=flags, limits=limits, insert=self._insert_screened
        )
        return self._write_new(batch, step, self._transaction(alone))

    def _write_new(
        self,
        batch: list[SMSMessage],
        write: Callable[[_S, list[SMSMessage]], list[_T]],
        transaction: AbstractContextManager[_S],
    ) -> list[_T]:
        """``write(conn, batch)`` in ``transaction``; a clash of idempotency keys names the message holding one."""
        try:
            with storage_errors(integrity=False), transaction as conn:
                return write(conn, batch)
        except IntegrityError as error:
            holder = self._first_key_holder(batch)
            if holder is None:
                raise StorageError(f"database refused the write: {reason(error)}") from error
            raise DuplicateIdempotencyKeyError(holder) from error

    def save(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.save`."""
        return self.save_many([message])[0]

    def save_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.save_many`: one executemany ``UPDATE``; related objects,
        written once by :meth:`add`, are left as stored."""
        batch = list(messages)
        if not batch:
            return []
        for message in batch:
            if message.id is None:
                raise MessageNotFoundError(0)
        writer = self._writer
        try:
            # One message is one UPDATE, atomic by itself; for more, the count is checked before the commit.
            single = len(batch) == 1
            transaction = driver_transaction(self.engine, single=single) or self._transaction(single)
            with storage_errors(), transaction as conn:
                if writer.update(conn, batch) != len(batch):
                    raise _Shortfall
        except _Shortfall:
            self._raise_conflict(batch)
        return [message.replace(version=message.version + 1) for message in batch]

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.claim` (and :mod:`adapters_sqlalchemy.claims`)."""
        if limit <= 0:
            return []
        now, lease_until = _aware(now, "now"), _aware(lease_until, "lease_until")
        if self._reader is not None and (driver := driver_transaction(self.engine)) is not None:
            with storage_errors(), driver as statements:
                rows = self._reader.claim(statements, now=now, lease_until=lease_until, limit=limit)
                related = self._reader.related(statements, [row["id"] for row in rows])
            claimed = [message_from_row(row, related.get(row["id"], ())) for row in rows]
        else:
            with storage_errors(), self.engine.begin() as conn:
                claimed = self._hydrate(conn, claim_rows(conn, self._m, now=now, lease_until=lease_until, limit=limit))
        return sorted(claimed, key=lambda message: (message.priority, message.next_attempt_at or now, message.id or 0))

    def purge(self, *, states: Collection[SMSState], changed_before: datetime, limit: int) -> int:
        """See :meth:`smscore.ports.MessageRepository.purge`."""
        if not states or limit <= 0:
            return 0
        m, r = self._m, self._r
        doomed = (
            select(m.c.id)
            .where(m.c.state.in_(state_values(states)), m.c.changed_at < _aware(changed_before, "changed_before"))
            .order_by(m.c.id)
            .limit(limit)
        )
        with storage_errors(), self.engine.begin() as conn:
            ids = conn.execute(delete(m).where(m.c.id.in_(doomed)).returning(m.c.id)).scalars().all()
            # Databases that enforce the foreign key cascade already did this; SQLite without the pragma did not.
            for chunk in _chunks(ids):
                conn.execute(delete(r).where(r.c.message_id.in_(chunk)))
        return len(ids)

    # -- reads -------------------------------------------------------------------------------------------

    def get(self, message_id: int) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.get`."""
        found = self._fetch(select(self._m).where(self._m.c.id == message_id))
        if not found:
            raise MessageNotFoundError(message_id)
        return found[0]

    def fetch(self, query: MessageQuery) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.fetch`: one query (plus one for related objects)."""
        if query.is_empty:
            return []
        if self._reader is not None and (driver := driver_transaction(self.engine)) is not None:
            with storage_errors(), driver as conn:
                rows = self._reader.fetch(conn, query)
                related = self._reader.related(conn, [row["id"] for row in rows])
            return [message_from_row(row, related.get(row["id"], ())) for row in rows]
        m = self._m
        statement = select(m).where(*self._conditions(query))
        statement = statement.order_by(m.c.id.desc() if query.newest_first else m.c.id)
        return self._fetch(statement if query.limit is None else statement.limit(query.limit))

    def tally(self, query: MessageQuery) -> int:
        """See :meth:`smscore.ports.MessageRepository.tally`."""
        statement = select(func.count()).select_from(self._m).where(*self._conditions(query))
        with storage_errors(), self.engine.begin() as conn:
            return int(conn.execute(statement).scalar_one())

    def stats(self) -> dict[tuple[str | None, SMSState], int]:
        """See :meth:`smscore.ports.MessageRepository.stats`."""
        m = self._m
        query = select(m.c.provider, m.c.state, func.count()).group_by(m.c.provider, m.c.state)
        with storage_errors(), self.engine.begin() as conn:
            return {(provider, SMSState(state)): int(n) for provider, state, n in conn.execute(query)}

    def get_by_idempotency_key(self, key: str) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_idempotency_key`."""
        found = self._fetch(select(self._m).where(self._m.c.idempotency_key == key))
        return found[0] if found else None

    def get_by_provider_ref(self, provider_ref: str, *, provider: str | None = None) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_provider_ref`. The oldest match wins."""
        m = self._m
        query = select(m).where(m.c.provider_ref == provider_ref, *self._conditions(MessageQuery(provider=provider)))
        found = self._fetch(query.order_by(m.c.id).limit(1))
        return found[0] if found else None

    def find_expired_leases(self, *, now: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.find_expired_leases`."""
        if limit <= 0:
            return []
        m = self._m
        query = select(m).where(
            m.c.state == SMSState.WAITING.value,
            m.c.lease_expires_at.is_not(None),
            m.c.lease_expires_at < _aware(now, "now"),
        )
        return self._fetch(query.order_by(m.c.id).limit(limit))

    # -- helpers -----------------------------------------------------------------------------------------

    def _transaction(self, single: bool) -> AbstractContextManager[Connection]:
        """A connection in a transaction, or for ``single`` work of one statement see :func:`one_statement`."""
        return one_statement(self.engine) if single else self.engine.begin()

    def _conditions(self, query: MessageQuery) -> list[ColumnElement[bool]]:
        return query_conditions(self._m, query)

    def _fetch(self, query: Select[Any]) -> list[SMSMessage]:
        with storage_errors(), self.engine.begin() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    def _hydrate(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[SMSMessage]:
        """The messages of whole rows of the message table (every column, in table order)."""
        # Plain dicts from the row tuples: looking names up in SQLAlchemy's RowMapping cost more than the query.
        names = self._column_names
        values = [dict(zip(names, row, strict=True)) for row in rows]
        related = self._related_of(conn, [row["id"] for row in values])
        return [message_from_row(row, related.get(row["id"], ())) for row in values]

    @cached_property
    def _reader(self) -> MessageReader | None:
        """SQLite's pages of messages and claims on the driver (see :mod:`adapters_sqlalchemy.reads`)."""
        dialect = self.engine.dialect
        if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
            return None
        return MessageReader(self._m, self._r, dialect)

    @cached_property
    def _column_names(self) -> tuple[str, ...]:
        return tuple(self._m.c.keys())

    def _related_of(self, conn: Connection, ids: Sequence[int]) -> dict[int, list[RelatedObject]]:
        """The related objects of every message in ``ids``: one query per 500 messages, never one per message."""
        if not ids:
            return {}
        if conn.dialect.name == "postgresql":
            # All ids as one array: a statement of constant text, parsed once and prepared by the driver, where an
            # IN list of 500 parameters is parsed again on every call.
            return related_by_message([conn.execute(self._related_by_array, {"ids": list(ids)})])
        in_list = self._r.c.message_id.in_
        return related_by_message(conn.execute(self._related_query(in_list(chunk))) for chunk in _chunks(ids))

    def _related_query(self, condition: ColumnElement[bool]) -> Select[Any]:
        r = self._r
        return (
            select(r.c.message_id, r.c.content_type, r.c.object_id)
            .where(condition)
            .order_by(r.c.message_id, r.c.position)
        )

    @cached_property
    def _related_by_array(self) -> Select[Any]:
        return self._related_query(self._r.c.message_id == any_(bindparam("ids", type_=ARRAY(BigInteger()))))

    def _insert(self, conn: Connection, batch: Sequence[SMSMessage]) -> list[SMSMessage]:
        m = self._m
        if self._writer.can_insert:
            stored = self._insert_rows(conn, batch)
        else:
            rows = [message_to_row(message) for message in batch]
            ids = conn.execute(insert(m).returning(m.c.id, sort_by_parameter_order=True), rows).scalars().all()
            stored = [message.replace(id=i) for message, i in zip(batch, ids, strict=True)]
        related = [row for message in stored for row in related_object_rows(message)]
        if related:
            conn.execute(insert(self._r), related)
        return stored

    def _insert_screened(
        self, conn: Connection, batch: Sequence[SMSMessage], screened: Sequence[bool]
    ) -> list[SMSMessage | None]:
        """:meth:`_insert` of the messages of ``batch`` not left out by the opt-out list (see ``screened`` in
        :meth:`add_screened`); None for each left out."""
        stored = self._insert_screened_rows(conn, batch, screened)
        related = [row for message in stored if message is not None for row in related_object_rows(message)]
        if related:
            conn.execute(insert(self._r), related)
        return stored

    def _insert_rows(self, conn: Statements, batch: Sequence[SMSMessage]) -> list[SMSMessage]:
        """The message rows of ``batch`` written by :class:`MessageWriter`, without their related objects."""
        ids = self._writer.insert(conn, batch)
        return [message.replace(id=i) for message, i in zip(batch, ids, strict=True)]

    def _insert_screened_rows(
        self, conn: Statements, batch: Sequence[SMSMessage], screened: Sequence[bool]
    ) -> list[SMSMessage | None]:
        """:meth:`_insert_rows` leaving out listed numbers (see :meth:`_insert_screened`)."""
        ids = self._writer.insert_screened(conn, batch, screened)
        return [None if i is None else message.replace(id=i) for message, i in zip(batch, ids, strict=True)]

    def _first_key_holder(self, batch: Sequence[SMSMessage]) -> SMSMessage | None:
        """The stored message holding the first idempotency key of ``batch`` that is taken, if any."""
        keys = [message.idempotency_key for message in batch if message.idempotency_key is not None]
        if not keys:
            return None
        holders: dict[str | None, SMSMessage] = {}
        for chunk in _chunks(keys):
            found = self._fetch(select(self._m).where(self._m.c.idempotency_key.in_(chunk)))
            holders.update((message.idempotency_key, message) for message in found)
        return next((holders[key] for key in keys if key in holders), None)

    @cached_property
    def _writer(self) -> MessageWriter:
        m = self._m
        values: dict[str, Any] = {
            name: bindparam(f"new_{name}", type_=m.c[name].type) for name in SAVED_FIELDS if name != "version"
        }
        # A literal 1, not a bind parameter: the writer supplies exactly the parameters named here.
        values["version"] = m.c.version + literal_column("1")
        statement = (
            update(m).where(m.c.id == bindparam("old_id"), m.c.version == bindparam("old_version")).values(values)
        )
        return MessageWriter(
            m,
            self.engine.dialect,
            insert_columns=MESSAGE_COLUMNS,
            update=statement,
            update_columns=[name for name in SAVED_FIELDS if name != "version"],
            opt_outs=self.tables.opt_outs,
        )

    def _raise_conflict(self, batch: Sequence[SMSMessage]) -> None:
        """Explain a failed compare-and-set (after its rollback): missing ids first, then stale versions."""
        m = self._m
        ids = [message.id or 0 for message in batch]
        stored: dict[int, int] = {}
        with storage_errors(), self.engine.begin() as conn:
            for chunk in _chunks(ids):
                for message_id, version in conn.execute(select(m.c.id, m.c.version).where(m.c.id.in_(chunk))):
                    stored[message_id] = version
        missing = [i for i in ids if i not in stored]
        if missing:
            raise MessageNotFoundError(missing[0])
        stale = [message.id or 0 for message in batch if stored[message.id or 0] != message.version]
        raise ConcurrentUpdateError(stale or ids)


class SQLAlchemyTemplateRepository:
    """A :class:`~smscore.ports.TemplateRepository` in the ``smscore_template`` table.

    ``template_class`` is what :meth:`get` and :meth:`list` return (a subclass of
    :class:`~smscore.templates.SMSTemplate` that overrides ``can_send``, say); ``clock`` gives the timestamps;
    ``renderer`` checks bodies when they are saved (by default :func:`~smscore.templates.default_renderer`).
    Database failures raise :class:`~smscore.errors.StorageError`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        tables: Tables | None = None,
        template_class: type[SMSTemplate] = SMSTemplate,
        clock: Callable[[], datetime] | None = None,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        self.engine = engine
        self.tables = tables or default_tables
        self.template_class = template_class
        self._renderer = renderer or default_renderer()
        self._t = self.tables.templates
        self._now = clock or (lambda: datetime.now(UTC))

    def get(self, slug: str) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.get`."""
        driver = driver_transaction(self.engine, single=True)
        if driver is not None:
            # Every send_template reads its template: on the driver connection, as the message writes run.
            sql, positional, converters = self._by_slug_compiled
            with storage_errors(), driver as raw:
                found = raw.exec_driver_sql(sql, (slug,) if positional else {"slug": slug}).all()
            row: Mapping[Any, Any] | None = (
                {
                    name: value if convert is None else convert(value)
                    for (name, convert), value in zip(converters, found[0], strict=True)
                }
                if found
                else None
            )
        else:
            with storage_errors(), self.engine.begin() as conn:
                row = conn.execute(self._by_slug, {"slug": slug}).mappings().one_or_none()
        if row is None:
            raise TemplateNotFoundError(str(slug))
        return template_from_row(row, self.template_class)

    @cached_property
    def _by_slug(self) -> Select[Any]:
        # Built once: every send_template reads its template, and building the query cost more than running it.
        return select(self._t).where(self._t.c.slug == bindparam("slug"))

    @cached_property
    def _by_slug_compiled(self) -> tuple[str, bool, list[tuple[str, Callable[[Any], Any] | None]]]:
        """:attr:`_by_slug` compiled for the engine's dialect: its SQL, whether its one parameter is positional,
        and each column's name with the conversion SQLAlchemy's result would apply to its value (the slug, a
        string, needs none on the way in)."""
        dialect = self.engine.dialect
        compiled = self._by_slug.compile(dialect=dialect)
        converters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in self._by_slug.selected_columns
        ]
        return compiled.string, bool(compiled.positional), converters

    def save(self, template: SMSTemplate) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.save`: one atomic upsert; ``created_at`` is kept unless
        the template carries one."""
        self._renderer.validate(template.get_body())
        t = self._t
        now = _aware(self._now(), "clock()")
        changed: dict[str, Any] = {"body": template.body, "is_active": template.is_active, "changed_at": now}
        inserted = {"slug": template.slug, **changed, "created_at": template.created_at or now}
        if template.created_at is not None:
            changed["created_at"] = template.created_at
        with storage_errors(), self.engine.begin() as conn:
            dialect = conn.dialect.name
            if dialect in {"postgresql", "sqlite"}:
                # Imported here: loading every PostgreSQL dialect module slows down each command-line start.
                from sqlalchemy.dialects import postgresql, sqlite

                insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
                upsert = insert_into(t).values(inserted).on_conflict_do_update(index_elements=[t.c.slug], set_=changed)
                row = conn.execute(upsert.returning(t.c.created_at, t.c.changed_at)).one()
            else:
                if conn.execute(update(t).where(t.c.slug == template.slug).values(changed)).rowcount == 0:
                    conn.execute(insert(t).values(inserted))
                row = conn.execute(select(t.c.created_at, t.c.changed_at).where(t.c.slug == template.slug)).one()
        return attrs.evolve(template, created_at=row.created_at, changed_at=row.changed_at)

    def delete(self, slug: str) -> None:
        """See :meth:`smscore.ports.TemplateRepository.delete`."""
        with storage_errors(), self.engine.begin() as conn:
            deleted = conn.execute(delete(self._t).where(self._t.c.slug == slug)).rowcount
        if not deleted:
            raise TemplateNotFoundError(slug)

    def list(self) -> list[SMSTemplate]:
        """See :meth:`smscore.ports.TemplateRepository.list`."""
        with storage_errors(), self.engine.begin() as conn:
            rows = conn.execute(select(self._t).order_by(self._t.c.slug)).mappings().all()
        return [template_from_row(row, self.template_class) for row in rows]
