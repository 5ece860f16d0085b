"""Rate limits: when each rate-limited provider's next send slot is free.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import adapters_sqlalchemy.types

revision = "0002"
down_revision = "0001"


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
