"""Outbox indexes whose cost does not grow with the backlog.

The claim reads WAITING messages in priority order straight from (state, priority, id). The index it replaces,
(state, next_attempt_at, priority), could not give that order, so every claim sorted the whole WAITING backlog
to take its first page, and draining a large campaign grew with its square. Expired leases are found in a
partial index of leased messages, instead of by reading every WAITING row on each outbox step.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


_LEASED = sa.text("lease_expires_at IS NOT NULL")


def upgrade() -> None:
    """Replace the claim index; add the lease index."""
    op.create_index("ix_smscore_message_claim", "smscore_message", ["state", "priority", "id"])
    op.drop_index("ix_smscore_message_state_next_attempt_priority", table_name="smscore_message")
    op.create_index(
        "ix_smscore_message_lease",
        "smscore_message",
        ["state", "lease_expires_at"],
        sqlite_where=_LEASED,
        postgresql_where=_LEASED,
    )


def downgrade() -> None:
    """Put the previous claim index back; drop the lease index."""
    op.drop_index("ix_smscore_message_lease", table_name="smscore_message")
    op.create_index(
        "ix_smscore_message_state_next_attempt_priority", "smscore_message", ["state", "next_attempt_at", "priority"]
    )
    op.drop_index("ix_smscore_message_claim", table_name="smscore_message")
