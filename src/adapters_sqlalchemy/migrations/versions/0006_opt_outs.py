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


OPT_OUT_COLUMNS = [
    sa.Column("recipient", sa.String(length=32), nullable=False),
    sa.Column("reason", sa.String(length=200), nullable=True),
    sa.Column("source", sa.String(length=50), nullable=False),
    sa.Column("created_at", adapters_sqlalchemy.types.UTCDateTime(timezone=True), nullable=False),
]
REFUSAL_COLUMNS = [
    sa.Column(name, sa.String(length=size), nullable=False) for name, size in (("reason", 20), ("tag", 50))
] + [sa.Column("count", sa.BigInteger(), nullable=False)]
LIMIT_INDEX = ("ix_smscore_message_recipient_tag_created_at", "smscore_message", ["recipient", "tag", "created_at"])


def upgrade() -> None:
    """Create the opt-out and refusal tables and the (recipient, tag, created_at) index."""
    op.create_table(
        "smscore_opt_out", *OPT_OUT_COLUMNS, sa.PrimaryKeyConstraint("recipient", name="pk_smscore_opt_out")
    )
    op.create_table(
        "smscore_refusal", *REFUSAL_COLUMNS, sa.PrimaryKeyConstraint("reason", "tag", name="pk_smscore_refusal")
    )
    op.create_index(*LIMIT_INDEX)


def downgrade() -> None:
    """Drop them (the opt-out list and the refusal totals are lost)."""
    op.drop_index(LIMIT_INDEX[0], table_name=LIMIT_INDEX[1])
    op.drop_table("smscore_refusal")
    op.drop_table("smscore_opt_out")
