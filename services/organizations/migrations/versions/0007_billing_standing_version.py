"""billing standing's version (ORG-14: BillingStandingChanged applied in order)

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
    with op.batch_alter_table('billing_standing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('standing_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('billing_standing', schema=None) as batch_op:
        batch_op.drop_column('standing_version')
