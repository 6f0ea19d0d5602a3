"""sessions ended by identity (IDN-03/18): nothing to create here

The other services keep a projection of ended sessions; identity checks its
own signin_session rows, so this revision only keeps the numbering shared
with them.

Revision ID: 0012
Revises: 0011
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
