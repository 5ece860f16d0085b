"""Templates can be switched off: ``is_active`` (true for every existing template).

An inactive template is kept but refuses to send; the import of django-pymess templates carries their flag
over into it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    """Add ``smscore_template.is_active``, true for the templates already there."""
    # A plain ADD COLUMN (no table copy on SQLite): the server default fills the rows already there.
    op.add_column("smscore_template", sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    """Drop ``smscore_template.is_active`` (every template sends again)."""
    with op.batch_alter_table("smscore_template") as batch:
        batch.drop_column("is_active")
