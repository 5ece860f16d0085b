"""The SMS received: ``smscore_inbound``, one row per provider and provider reference.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision = "0008"
down_revision = "0007"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NUMBER = sa.String(length=32)
COLUMNS: list[sa.schema.SchemaItem] = [
    sa.Column("id", ID, autoincrement=True, nullable=False),
    sa.Column("provider", sa.String(length=100), nullable=False),
    sa.Column("sender", NUMBER, nullable=False),
    sa.Column("recipient", NUMBER, nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("received_at", adapters_sqlalchemy.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("provider_ref", sa.String(length=100), nullable=False),
    sa.Column("reply_to", sa.BigInteger(), nullable=True),
    sa.Column("extra_data", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_smscore_inbound"),
    sa.UniqueConstraint("provider", "provider_ref", name="uq_smscore_inbound_provider_ref"),
]
INDEXES = {"ix_smscore_inbound_sender": ["sender"], "ix_smscore_inbound_received_at": ["received_at"]}


def upgrade() -> None:
    """Create ``smscore_inbound`` and its indexes."""
    op.create_table("smscore_inbound", *COLUMNS, sqlite_autoincrement=True)
    for name, columns in INDEXES.items():
        op.create_index(name, "smscore_inbound", columns)


def downgrade() -> None:
    """Drop it (the SMS received are lost)."""
    op.drop_table("smscore_inbound")
