"""billing messages (NTF-01): the accounting right of members, attachments of messages

Money messages also go to members with the accounting right (ORG-08); a
message may carry files (the CSV export of invoices), erased once delivered;
product names are kept for messages whose event carries only the product id;
a reminder is held back and cancelled when its matter is settled first (`ref`).

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
    op.create_table(
        'product',
        sa.Column('product_id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=253), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('product_id'),
    )
    op.create_index('ix_product_organization', 'product', ['organization_id'], unique=False)
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accounting', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('accounting_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.create_index('ix_message_ref', ['ref'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_product_organization', table_name='product')
    op.drop_table('product')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_ref')
        batch_op.drop_column('ref')
        batch_op.drop_column('attachments')
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.drop_column('accounting_version')
        batch_op.drop_column('accounting')
