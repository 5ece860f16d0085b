"""Rate limits: when each rate-limited provider's next send slot is free.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:45:03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the rate-limit table."""
    op.create_table(
        "smscore_rate_limit",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("next_free", adapters_sqlalchemy.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_smscore_rate_limit"),
    )


def downgrade() -> None:
    """Drop the rate-limit table (only pending send slots are lost)."""
    op.drop_table("smscore_rate_limit")
