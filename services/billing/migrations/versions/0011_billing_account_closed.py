"""billing accounts are closed when their organization is deleted (ORG-14)

Revision ID: 0011
Revises: 0010

A card charge that completes after the deletion (3-D Secure confirmed late)
is sent back to the card instead of landing on a balance nobody can use.
"""
import sqlalchemy as sa
from alembic import op

from manager_shared.db import UtcDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("billing_account") as batch:
        batch.add_column(sa.Column("closed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("billing_account") as batch:
        batch.drop_column("closed_at")
