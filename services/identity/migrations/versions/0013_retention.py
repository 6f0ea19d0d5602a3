"""retention of tables that only grew (X-06)

Revision ID: 0013
Revises: 0012
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the retention job deletes by age: ranges on these columns, not table scans
    op.create_index('ix_processed_event_processed_at', 'processed_event', ['processed_at'], unique=False)
    op.create_index('ix_refresh_token_expires_at', 'refresh_token', ['expires_at'], unique=False)
    op.create_index('ix_one_time_challenge_expires_at', 'one_time_challenge', ['expires_at'], unique=False)
    op.create_index('ix_consumed_token_expires_at', 'consumed_token', ['expires_at'], unique=False)
    op.create_index('ix_signin_throttle_hour_start', 'signin_throttle', ['hour_start'], unique=False)
    op.create_index('ix_activity_at', 'activity', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_activity_at', table_name='activity')
    op.drop_index('ix_signin_throttle_hour_start', table_name='signin_throttle')
    op.drop_index('ix_consumed_token_expires_at', table_name='consumed_token')
    op.drop_index('ix_one_time_challenge_expires_at', table_name='one_time_challenge')
    op.drop_index('ix_refresh_token_expires_at', table_name='refresh_token')
    op.drop_index('ix_processed_event_processed_at', table_name='processed_event')
