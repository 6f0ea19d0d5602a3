"""subscriptions keep the day of month their first term started (BIL-04/05)

Revision ID: 0012
Revises: 0011

Terms end on that day, clamped to short months, so a monthly term from
31 January ends on 28 February and the next on 31 March. Rows opened before
keep NULL: their terms go on from the day of their current term's end.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(sa.Column("anchor_day", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("anchor_day")
