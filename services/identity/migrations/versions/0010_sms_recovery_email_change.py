"""One-time challenges remember (as a keyed hash) where their code was sent,
so codes are budgeted per phone number / address as well as per account
(IDN-13, IDN-14c, IDN-06).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('one_time_challenge', schema=None) as batch_op:
        batch_op.add_column(sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index('ix_one_time_challenge_destination', ['destination', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('one_time_challenge', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_challenge_destination')
        batch_op.drop_column('destination')
