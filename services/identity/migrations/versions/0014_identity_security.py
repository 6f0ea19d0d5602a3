"""identity hardening: throttle, password reset, e-mail normalisation (IDN-04/13)

Revision ID: 0014
Revises: 0013
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IDN-04: attempts admitted and still being evaluated, per throttle key
    with op.batch_alter_table('signin_throttle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signin_throttle', schema=None) as batch_op:
        batch_op.drop_column('pending_since')
        batch_op.drop_column('pending')
