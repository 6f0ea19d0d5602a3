"""catalogue and subscriptions (BIL-04, BIL-05)

Revision ID: 0007
Revises: 0006
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel

import manager_shared.db  # noqa: F401  (UtcDateTime)


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


_str = sqlmodel.sql.sqltypes.AutoString
_time = manager_shared.db.UtcDateTime


def upgrade() -> None:
    op.create_table(
        'catalogue_offer',
        sa.Column('code', _str(length=80), nullable=False),
        sa.Column('kind', _str(length=40), nullable=False),
        sa.Column('name', _str(length=200), nullable=False),
        sa.Column('vat_category', _str(length=40), nullable=False),
        sa.Column('renews', sa.Boolean(), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_index('ix_catalogue_offer_kind', 'catalogue_offer', ['kind'], unique=False)
    op.create_table(
        'catalogue_price',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('offer_code', _str(length=80), nullable=False),
        sa.Column('currency', _str(length=3), nullable=False),
        sa.Column('period', _str(length=20), nullable=False),
        sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
        sa.Column('min_quantity', sa.Integer(), nullable=False),
        sa.Column('valid_from', _time(), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
        sa.CheckConstraint('unit_price_minor >= 0', name='ck_catalogue_price_not_negative'),
        sa.CheckConstraint('min_quantity >= 1', name='ck_catalogue_price_min_quantity'),
        sa.ForeignKeyConstraint(['offer_code'], ['catalogue_offer.code']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('offer_code', 'currency', 'period', 'valid_from', name='uq_catalogue_price_version'),
    )
    op.create_table(
        'subscription',
        sa.Column('product_id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('product_kind', _str(length=40), nullable=False),
        sa.Column('product_name', _str(length=253), nullable=False),
        sa.Column('offer_code', _str(length=80), nullable=True),
        sa.Column('status', _str(length=20), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('period', _str(length=20), nullable=False),
        sa.Column('next_period', _str(length=20), nullable=True),
        sa.Column('term_start', sa.Date(), nullable=False),
        sa.Column('term_end', sa.Date(), nullable=False),
        sa.Column('auto_renew', sa.Boolean(), nullable=False),
        sa.Column('renewal_warranty', sa.Boolean(), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.Column('updated_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('product_id'),
    )
    op.create_index('ix_subscription_organization_id', 'subscription', ['organization_id'], unique=False)
    op.create_index('ix_subscription_term_end', 'subscription', ['term_end'], unique=False)
    op.create_table(
        'renewal_claim',
        sa.Column('product_id', sa.Uuid(), nullable=False),
        sa.Column('term_end', sa.Date(), nullable=False),
        sa.Column('invoice_id', sa.Uuid(), nullable=True),
        sa.Column('outcome', _str(length=30), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('product_id', 'term_end'),
    )


def downgrade() -> None:
    op.drop_table('renewal_claim')
    op.drop_index('ix_subscription_term_end', table_name='subscription')
    op.drop_index('ix_subscription_organization_id', table_name='subscription')
    op.drop_table('subscription')
    op.drop_table('catalogue_price')
    op.drop_index('ix_catalogue_offer_kind', table_name='catalogue_offer')
    op.drop_table('catalogue_offer')
