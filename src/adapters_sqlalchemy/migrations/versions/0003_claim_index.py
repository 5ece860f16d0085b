"""The outbox claim reads WAITING messages in priority order straight from an index.

The index it replaces, (state, next_attempt_at, priority), could not give that order, so every claim sorted the
whole WAITING backlog to take its first page: the cost of a claim grew with the backlog, and draining a large
campaign grew with its square.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the claim index."""
    op.create_index("ix_smscore_message_claim", "smscore_message", ["state", "priority", "id"])
    op.drop_index("ix_smscore_message_state_next_attempt_priority", table_name="smscore_message")


def downgrade() -> None:
    """Put the previous claim index back."""
    op.create_index(
        "ix_smscore_message_state_next_attempt_priority", "smscore_message", ["state", "next_attempt_at", "priority"]
    )
    op.drop_index("ix_smscore_message_claim", table_name="smscore_message")
