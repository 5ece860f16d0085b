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

from typing import Any, Final

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
        return Tables(
            messages=metadata.tables[MESSAGE_TABLE],
            related_objects=metadata.tables[RELATED_OBJECT_TABLE],
            templates=metadata.tables[TEMPLATE_TABLE],
            rate_limits=metadata.tables[RATE_LIMIT_TABLE],
            opt_outs=metadata.tables[OPT_OUT_TABLE],
            refusals=metadata.tables[REFUSAL_TABLE],
            inbound=metadata.tables[INBOUND_TABLE],
        )
    return Tables(
        messages=_messages(metadata),
        related_objects=_related_objects(metadata),
        templates=_templates(metadata),
        rate_limits=_rate_limits(metadata),
        opt_outs=_opt_outs(metadata),
        refusals=_refusals(metadata),
        inbound=_inbound(metadata),
    )


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
        # claim: WAITING messages read in (priority, id) order from the index, so a claim stops after its page
        # instead of sorting the whole backlog (due and unleased ones are filtered on the way).
        Index("ix_smscore_message_claim", "state", "priority", "id"),
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


def _opt_outs(metadata: MetaData) -> Table:
    # One row per number (E.164) that gets no SMS.
    return Table(
        OPT_OUT_TABLE,
        metadata,
        Column("recipient", String(32), nullable=False),
        Column("reason", String(200), nullable=True),
        Column("source", String(50), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        PrimaryKeyConstraint("recipient", name="pk_smscore_opt_out"),
    )


def _refusals(metadata: MetaData) -> Table:
    # One row per (reason, tag) ever refused, with its running total; "" stands for no tag (a key has no NULL).
    return Table(
        REFUSAL_TABLE,
        metadata,
        Column("reason", String(20), nullable=False),
        Column("tag", String(50), nullable=False),
        Column("count", BigInteger, nullable=False),
        PrimaryKeyConstraint("reason", "tag", name="pk_smscore_refusal"),
    )


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


#: The package's own metadata (what the shipped migrations create).
metadata: Final = MetaData()

#: The tables on :data:`metadata`.
tables: Final = define_tables(metadata)
