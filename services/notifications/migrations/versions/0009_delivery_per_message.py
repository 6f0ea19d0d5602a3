"""per-message delivery record (NTF-04): no schema change

Each message is now marked sent in its own transaction and its Message-ID is
derived from (event, recipient, channel): both use the existing columns.

Revision ID: 0009
Revises: 0008
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
