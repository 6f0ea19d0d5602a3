"""organization_member.two_factor (ORG-11: who to tell that 2FA is required)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('two_factor', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.drop_column('two_factor')
