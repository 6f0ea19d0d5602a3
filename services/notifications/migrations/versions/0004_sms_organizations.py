"""SMS and organizations: message.organization_id and .secret, projections
of organizations and their members

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organization_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('secret', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_message_organization', ['organization_id', 'id'], unique=False)
    op.create_table('organization',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id')
    )
    op.create_table('organization_member',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'account_id')
    )
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.create_index('ix_organization_member_account', ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.drop_index('ix_organization_member_account')
    op.drop_table('organization_member')
    op.drop_table('organization')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_organization')
        batch_op.drop_column('secret')
        batch_op.drop_column('organization_id')
