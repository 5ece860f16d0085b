"""The tables, as SQLAlchemy Core ``Table`` objects.

:data:`metadata` and :data:`tables` are the package's own; :func:`define_tables` puts the same tables on an
application's ``MetaData`` so that its Alembic autogenerate sees them::

    from sqlalchemy import MetaData
    from adapters_sqlalchemy import SQLAlchemyMessageRepository, define_tables

    metadata = MetaData()                      # the application's
    sms_tables = define_tables(metadata)
    messages = SQLAlchemyMessageRepository(engine, tables=sms_tables)

Seven tables: ``smscore_message`` (one row per SMS, the fields of :class:`smscore.SMSMessage`),
``smscore_related_object`` (the objects linked to a message, in order), ``smscore_template``,
``smscore_rate_limit`` (when each rate-limited provider's next send slot is free), ``smscore_opt_out`` (the numbers
that get no SMS), ``smscore_refusal`` (how many messages the guards refused, per reason and tag) and
``smscore_inbound`` (the SMS received, one per provider and reference). Every index
serves a query the repositories run; constraint names are explicit so migrations and models agree on every
database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

import attrs
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine

from adapters_sqlalchemy.types import ExactDecimal, UTCDateTime
from smscore.message import ROW_FIELDS
from smscore.rows import DATETIME_FIELDS

__all__ = [
    "INBOUND_TABLE",
    "MESSAGE_TABLE",
    "OPT_OUT_TABLE",
    "RATE_LIMIT_TABLE",
    "REFUSAL_TABLE",
    "RELATED_OBJECT_TABLE",
    "TABLE_NAMES",
    "TEMPLATE_TABLE",
    "OnTable",
    "Tables",
    "define_tables",
    "metadata",
    "tables",
]

MESSAGE_TABLE: Final = "smscore_message"
RELATED_OBJECT_TABLE: Final = "smscore_related_object"
TEMPLATE_TABLE: Final = "smscore_template"
RATE_LIMIT_TABLE: Final = "smscore_rate_limit"
OPT_OUT_TABLE: Final = "smscore_opt_out"
REFUSAL_TABLE: Final = "smscore_refusal"
INBOUND_TABLE: Final = "smscore_inbound"
#: Every table this package owns (migrations and schema checks look at these and nothing else).
TABLE_NAMES: Final = frozenset(
    {MESSAGE_TABLE, RELATED_OBJECT_TABLE, TEMPLATE_TABLE, RATE_LIMIT_TABLE, OPT_OUT_TABLE, REFUSAL_TABLE, INBOUND_TABLE}
)

#: SQLite gives auto-increment ids only to a column declared exactly ``INTEGER PRIMARY KEY``.
_ID = BigInteger().with_variant(Integer(), "sqlite")


@attrs.frozen
class Tables:
    """The seven tables, as defined on one ``MetaData``."""

    messages: Table
    related_objects: Table
    templates: Table
    rate_limits: Table
    opt_outs: Table
    refusals: Table
    inbound: Table


def define_tables(metadata: MetaData) -> Tables:
    """Define the tables on ``metadata`` (or return them if this ``metadata`` already has them).

    Raises ``sqlalchemy.exc.InvalidRequestError`` if ``metadata`` holds a different table under one of the names.
    """
    if set(metadata.tables) >= TABLE_NAMES:
        return Tables(**{field: metadata.tables[name] for field, (name, _) in _DEFINITIONS.items()})
    return Tables(**{field: define(metadata) for field, (_, define) in _DEFINITIONS.items()})


def _message_columns() -> dict[str, tuple[TypeEngine[Any], bool]]:
    """The type and nullability of each message column but ``id``, in the order of the one field list every storage
    maps (:data:`~smscore.message.ROW_FIELDS`). New types each call: every ``define_tables`` gets its own."""
    spec: dict[str, tuple[TypeEngine[Any], bool]] = {
        "recipient": (String(32), False),
        "content": (Text(), False),
        "state": (String(16), False),
        "sender": (String(32), True),
        "template_slug": (String(100), True),
        "backend": (String(250), True),
        "provider": (String(100), True),
        "error": (Text(), True),
        "extra_data": (JSON(), False),
        "extra_sender_data": (JSON(), False),
        "tag": (String(50), True),
        "attempts": (Integer(), False),
        "priority": (SmallInteger(), False),
        "provider_ref": (String(255), True),
        "encoding": (String(8), False),
        "segments": (Integer(), False),
        "idempotency_key": (String(255), True),
        "deferred_reason": (String(255), True),
        "price": (ExactDecimal(), True),
        "price_unit": (String(16), True),
        "version": (Integer(), False),
    }
    # Every time column is UTC; only the creation and change times are always known.
    spec.update((name, (UTCDateTime(), name not in {"created_at", "changed_at"})) for name in DATETIME_FIELDS)
    return {name: spec[name] for name in ROW_FIELDS}


def _messages(metadata: MetaData) -> Table:
    return Table(
        MESSAGE_TABLE,
        metadata,
        Column("id", _ID, autoincrement=True),
        *(Column(name, kind, nullable=nullable) for name, (kind, nullable) in _message_columns().items()),
        PrimaryKeyConstraint("id", name="pk_smscore_message"),
        UniqueConstraint("idempotency_key", name="uq_smscore_message_idempotency_key"),
        # find(state, provider), count, stats and the delivery-check scan.
        Index("ix_smscore_message_state_provider", "state", "provider"),
        # claim: per priority, the WAITING messages due by now are one range of the index, read in due-time order,
        # so neither a backlog of scheduled messages nor a long queue is read or sorted to take a page.
        Index("ix_smscore_message_claim", "state", "priority", "next_attempt_at", "id"),
        # Expired leases: only leased messages (a few in flight) are in it, so finding them never reads the
        # backlog. Partial where the database has partial indexes.
        Index(
            "ix_smscore_message_lease",
            "state",
            "lease_expires_at",
            sqlite_where=text("lease_expires_at IS NOT NULL"),
            postgresql_where=text("lease_expires_at IS NOT NULL"),
        ),
        # The idle time-out scan (one state, any provider) pages through it in id order, so a check run reads
        # each in-flight message once instead of sorting all the remaining ones for every page. The id is
        # explicit because PostgreSQL orders equal keys by their place in the heap, not by id.
        Index("ix_smscore_message_state", "state", "id"),
        # purge: old messages in final states.
        Index("ix_smscore_message_state_changed_at", "state", "changed_at"),
        Index("ix_smscore_message_recipient", "recipient"),
        Index("ix_smscore_message_tag", "tag"),
        # recipient_limits: the messages of one recipient and tag in a window, counted from the index alone.
        Index("ix_smscore_message_recipient_tag_created_at", "recipient", "tag", "created_at"),
        Index("ix_smscore_message_provider_ref", "provider_ref"),
        # Never reuse an id, even after purging the newest rows: gateways know messages by our id.
        sqlite_autoincrement=True,
    )


def _related_objects(metadata: MetaData) -> Table:
    return Table(
        RELATED_OBJECT_TABLE,
        metadata,
        Column("id", _ID, autoincrement=True),
        Column("message_id", _ID, nullable=False),
        Column("position", SmallInteger, nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("object_id", Text, nullable=False),
        Column("object_id_int", BigInteger, nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        PrimaryKeyConstraint("id", name="pk_smscore_related_object"),
        ForeignKeyConstraint(
            ["message_id"],
            [f"{MESSAGE_TABLE}.id"],
            name="fk_smscore_related_object_message_id",
            ondelete="CASCADE",
        ),
        Index("ix_smscore_related_object_message_id", "message_id", "position"),
        Index("ix_smscore_related_object_content_type_object_id_int", "content_type", "object_id_int"),
        Index("ix_smscore_related_object_content_type_object_id", "content_type", "object_id"),
    )


def _templates(metadata: MetaData) -> Table:
    return Table(
        TEMPLATE_TABLE,
        metadata,
        Column("slug", String(100), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("changed_at", UTCDateTime(), nullable=False),
        # Inactive templates are kept but refuse to send; rows written before the column existed are active.
        Column("is_active", Boolean, nullable=False, server_default=true()),
        PrimaryKeyConstraint("slug", name="pk_smscore_template"),
    )


def _rate_limits(metadata: MetaData) -> Table:
    # One row per rate-limited key (a provider name): when its next send slot starts.
    return Table(
        RATE_LIMIT_TABLE,
        metadata,
        Column("key", String(100), nullable=False),
        Column("next_free", UTCDateTime(), nullable=False),
        PrimaryKeyConstraint("key", name="pk_smscore_rate_limit"),
    )


def _keyed_table(
    metadata: MetaData, name: str, key: tuple[str, ...], columns: dict[str, tuple[TypeEngine[Any], bool]]
) -> Table:
    """The table ``name`` of ``columns`` (name: type and nullability) with the primary key ``key``."""
    made = (Column(column, kind, nullable=nullable) for column, (kind, nullable) in columns.items())
    return Table(name, metadata, *made, PrimaryKeyConstraint(*key, name=f"pk_{name}"))


def _opt_outs(metadata: MetaData) -> Table:
    # One row per number (E.164) that gets no SMS.
    columns: dict[str, tuple[TypeEngine[Any], bool]] = {
        "recipient": (String(32), False),
        "reason": (String(200), True),
        "source": (String(50), False),
        "created_at": (UTCDateTime(), False),
    }
    return _keyed_table(metadata, OPT_OUT_TABLE, ("recipient",), columns)


def _refusals(metadata: MetaData) -> Table:
    # One row per (reason, tag) ever refused, with its running total; "" stands for no tag (a key has no NULL).
    columns: dict[str, tuple[TypeEngine[Any], bool]] = {
        "reason": (String(20), False),
        "tag": (String(50), False),
        "count": (BigInteger(), False),
    }
    return _keyed_table(metadata, REFUSAL_TABLE, ("reason", "tag"), columns)


def _inbound(metadata: MetaData) -> Table:
    # One row per SMS received; a provider's retried webhook finds its reference taken. reply_to is the id of the
    # message answered, kept without a foreign key: purging messages leaves what was received alone.
    return Table(
        INBOUND_TABLE,
        metadata,
        Column("id", _ID, autoincrement=True),
        Column("provider", String(100), nullable=False),
        Column("sender", String(32), nullable=False),
        Column("recipient", String(32), nullable=False),
        Column("content", Text, nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
        Column("provider_ref", String(100), nullable=False),
        Column("reply_to", BigInteger, nullable=True),
        Column("extra_data", JSON, nullable=False),
        PrimaryKeyConstraint("id", name="pk_smscore_inbound"),
        UniqueConstraint("provider", "provider_ref", name="uq_smscore_inbound_provider_ref"),
        Index("ix_smscore_inbound_sender", "sender"),
        Index("ix_smscore_inbound_received_at", "received_at"),
        sqlite_autoincrement=True,
    )


#: Each field of :class:`Tables`: its table's name and the function that defines it.
_DEFINITIONS: Final[dict[str, tuple[str, Callable[[MetaData], Table]]]] = {
    "messages": (MESSAGE_TABLE, _messages),
    "related_objects": (RELATED_OBJECT_TABLE, _related_objects),
    "templates": (TEMPLATE_TABLE, _templates),
    "rate_limits": (RATE_LIMIT_TABLE, _rate_limits),
    "opt_outs": (OPT_OUT_TABLE, _opt_outs),
    "refusals": (REFUSAL_TABLE, _refusals),
    "inbound": (INBOUND_TABLE, _inbound),
}

#: The package's own metadata (what the shipped migrations create).
metadata: Final = MetaData()

#: The tables on :data:`metadata`.
tables: Final = define_tables(metadata)
_PACKAGE_TABLES: Final = tables  # what OnTable uses when given none (its argument hides the name ``tables``)


class OnTable:
    """The base of a store kept in one of the :class:`Tables`: ``table`` names which (``"opt_outs"``, ...); an
    instance keeps the engine and that table, of the given ``tables`` or the package's own."""

    table: ClassVar[str]

    def __init__(self, engine: Engine, *, tables: Tables | None = None) -> None:
        self.engine = engine
        self._t: Table = getattr(tables or _PACKAGE_TABLES, self.table)

    def kept_in(self, engine: Engine, table: Table) -> bool:
        """Whether this store is ``table`` reached through ``engine``."""
        return self.engine is engine and self._t is table
