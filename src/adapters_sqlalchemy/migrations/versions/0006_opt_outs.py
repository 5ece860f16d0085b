"""Opt-out list, refusal totals, and the index recipient limits count from.

``smscore_opt_out`` holds the numbers that get no SMS, ``smscore_refusal`` how many messages the guards refused per
reason and tag, and ``ix_smscore_message_recipient_tag_created_at`` lets a recipient limit count one recipient's
messages of one tag in a window from the index alone.

Revision ID: 0006o
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision = "0006o"
down_revision = "0005"


def upgrade() -> None:
    """Create the opt-out and refusal tables and the (recipient, tag, created_at) index."""
    op.create_table(
        "smscore_opt_out",
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("created_at", adapters_sqlalchemy.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("recipient", name="pk_smscore_opt_out"),
    )
    op.create_table(
        "smscore_refusal",
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reason", "tag", name="pk_smscore_refusal"),
    )
    op.create_index(
        "ix_smscore_message_recipient_tag_created_at", "smscore_message", ["recipient", "tag", "created_at"]
    )


def downgrade() -> None:
    """Drop them (the opt-out list and the refusal totals are lost)."""
    op.drop_index("ix_smscore_message_recipient_tag_created_at", table_name="smscore_message")
    op.drop_table("smscore_refusal")
    op.drop_table("smscore_opt_out")
