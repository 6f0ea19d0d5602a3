"""retention of tables that only grew (X-06)

Revision ID: 0006
Revises: 0005
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the retention job deletes by age: ranges on these columns, not table scans
    op.create_index('ix_processed_event_processed_at', 'processed_event', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_processed_event_processed_at', table_name='processed_event')
