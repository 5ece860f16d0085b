"""An index that lets the idle time-out page through one in-flight state in id order.

The time-out scan filters on state and send time only, so (state, provider) cannot give it id order: every
page sorted all the remaining SENDING and UNKNOWN messages, and a check run over a large backlog grew with its
square. (state, id) is read in id order from the first row after the previous page.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    """Add the (state, id) index."""
    op.create_index("ix_smscore_message_state", "smscore_message", ["state", "id"])


def downgrade() -> None:
    """Drop the (state, id) index."""
    op.drop_index("ix_smscore_message_state", table_name="smscore_message")
