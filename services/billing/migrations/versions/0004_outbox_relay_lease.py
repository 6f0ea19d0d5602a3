"""the outbox relay's lease: one active relay per service (X-02)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
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
    # memberships ordered by org_version, whatever order the events arrive in
    with op.batch_alter_table('org_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('org_member', schema=None) as batch_op:
        batch_op.drop_column('version')
    op.drop_table("outbox_relay_lease")
