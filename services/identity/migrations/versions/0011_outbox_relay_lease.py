"""the outbox relay's lease: one active relay per service (X-02)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
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


def downgrade() -> None:
    op.drop_table("outbox_relay_lease")
