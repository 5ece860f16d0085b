"""Initial schema: messages, their related objects, templates.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision = "0001"
down_revision = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MESSAGE_INDEXES = {
    "ix_smscore_message_state_provider": ["state", "provider"],
    "ix_smscore_message_state_next_attempt_priority": ["state", "next_attempt_at", "priority"],
    "ix_smscore_message_state_changed_at": ["state", "changed_at"],
    "ix_smscore_message_recipient": ["recipient"],
    "ix_smscore_message_tag": ["tag"],
    "ix_smscore_message_provider_ref": ["provider_ref"],
}
_RELATED_INDEXES = {
    "ix_smscore_related_object_message_id": ["message_id", "position"],
    "ix_smscore_related_object_content_type_object_id_int": ["content_type", "object_id_int"],
    "ix_smscore_related_object_content_type_object_id": ["content_type", "object_id"],
}


def _datetime() -> adapters_sqlalchemy.types.UTCDateTime:
    return adapters_sqlalchemy.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "smscore_message",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("changed_at", _datetime(), nullable=False),
        sa.Column("sent_at", _datetime(), nullable=True),
        sa.Column("sender", sa.String(length=32), nullable=True),
        sa.Column("template_slug", sa.String(length=100), nullable=True),
        sa.Column("backend", sa.String(length=250), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("extra_data", sa.JSON(), nullable=False),
        sa.Column("extra_sender_data", sa.JSON(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("next_attempt_at", _datetime(), nullable=True),
        sa.Column("lease_expires_at", _datetime(), nullable=True),
        sa.Column("price", adapters_sqlalchemy.types.ExactDecimal(), nullable=True),
        sa.Column("price_unit", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_smscore_message"),
        sa.UniqueConstraint("idempotency_key", name="uq_smscore_message_idempotency_key"),
        sqlite_autoincrement=True,
    )
    for name, columns in _MESSAGE_INDEXES.items():
        op.create_index(name, "smscore_message", columns, unique=False)
    op.create_table(
        "smscore_related_object",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("object_id_int", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["smscore_message.id"],
            name="fk_smscore_related_object_message_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_smscore_related_object"),
    )
    for name, columns in _RELATED_INDEXES.items():
        op.create_index(name, "smscore_related_object", columns, unique=False)
    op.create_table(
        "smscore_template",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("changed_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_smscore_template"),
    )


def downgrade() -> None:
    """Drop the three tables (and with them every stored message and template)."""
    op.drop_table("smscore_template")
    for name in _RELATED_INDEXES:
        op.drop_index(name, table_name="smscore_related_object")
    op.drop_table("smscore_related_object")
    for name in _MESSAGE_INDEXES:
        op.drop_index(name, table_name="smscore_message")
    op.drop_table("smscore_message")
