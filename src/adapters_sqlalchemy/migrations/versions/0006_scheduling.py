"""Scheduled sending: ``send_at`` and ``deferred_reason``, and a claim index read in due-time order.

Every WAITING message now has ``next_attempt_at`` (its creation, scheduled or retry time), filled in here for the
rows that had none. The claim index becomes (state, priority, next_attempt_at, id): per priority, the messages
due by now are one range of it, so a backlog of messages scheduled for later is never read by a claim.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    """Add the two columns, give every message a due time, replace the claim index."""
    op.add_column("smscore_message", sa.Column("send_at", adapters_sqlalchemy.types.UTCDateTime(timezone=True)))
    op.add_column("smscore_message", sa.Column("deferred_reason", sa.String(255)))
    op.execute("UPDATE smscore_message SET next_attempt_at = created_at WHERE next_attempt_at IS NULL")
    op.drop_index("ix_smscore_message_claim", table_name="smscore_message")
    op.create_index("ix_smscore_message_claim", "smscore_message", ["state", "priority", "next_attempt_at", "id"])


def downgrade() -> None:
    """Put the (state, priority, id) claim index back; drop the two columns (due times stay filled in)."""
    op.drop_index("ix_smscore_message_claim", table_name="smscore_message")
    op.create_index("ix_smscore_message_claim", "smscore_message", ["state", "priority", "id"])
    with op.batch_alter_table("smscore_message") as batch:
        batch.drop_column("deferred_reason")
        batch.drop_column("send_at")
