"""the outbox relay's lease: one active relay per service (X-02)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_relay_lease",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("broker_incarnation", sa.String(100), nullable=True),
    )
    # the member projection takes each field only from a newer org_version
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('two_factor_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.drop_column('two_factor_version')
        batch_op.drop_column('role_version')
    op.drop_table("outbox_relay_lease")
