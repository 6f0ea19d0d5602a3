"""sessions ended by identity (IDN-03/18)

Revision ID: 0007
Revises: 0006
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the projection of identity's SessionsEnded events (manager_shared.sessions)
    op.create_table('ended_session',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
    )
    op.create_index(op.f('ix_ended_session_ended_at'), 'ended_session', ['ended_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ended_session_ended_at'), table_name='ended_session')
    op.drop_table('ended_session')
