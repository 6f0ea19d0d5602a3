"""invoices, numbering, pro forma, bank references (BIL-06, BIL-07)

Revision ID: 0009
Revises: 0008
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel

import manager_shared.db  # noqa: F401  (UtcDateTime)


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = manager_shared.db.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table('billing_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', _str(length=16), nullable=False, server_default='private'))
        batch_op.add_column(sa.Column('street', _str(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('postal_code', _str(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('city', _str(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('country', _str(length=2), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('vat_number', _str(length=32), nullable=True))
        batch_op.add_column(sa.Column('language', _str(length=2), nullable=False, server_default='en'))
    op.create_table(
        'invoice',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('kind', _str(length=16), nullable=False),
        sa.Column('number', _str(length=32), nullable=True),
        sa.Column('status', _str(length=16), nullable=False),
        sa.Column('currency', _str(length=3), nullable=False),
        sa.Column('source_ref', _str(length=200), nullable=True),
        sa.Column('issued_at', _time(), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('paid_at', _time(), nullable=True),
        sa.Column('paid_means', _str(length=32), nullable=True),
        sa.Column('paid_reference', _str(length=200), nullable=True),
        sa.Column('net_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_minor', sa.BigInteger(), nullable=False),
        sa.Column('total_minor', sa.BigInteger(), nullable=False),
        sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_treatment', _str(length=24), nullable=False),
        sa.Column('payment_reference', _str(length=40), nullable=True),
        sa.Column('credited_invoice_id', sa.Uuid(), nullable=True),
        sa.Column('buyer_name', _str(length=200), nullable=False),
        sa.Column('buyer_street', _str(length=200), nullable=False),
        sa.Column('buyer_postal_code', _str(length=20), nullable=False),
        sa.Column('buyer_city', _str(length=100), nullable=False),
        sa.Column('buyer_country', _str(length=2), nullable=False),
        sa.Column('buyer_vat_number', _str(length=32), nullable=True),
        sa.Column('buyer_is_business', sa.Boolean(), nullable=False),
        sa.Column('language', _str(length=2), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
        sa.UniqueConstraint('source_ref'),
        sa.UniqueConstraint('payment_reference'),
    )
    op.create_index('ix_invoice_org_issued', 'invoice', ['organization_id', 'issued_at'], unique=False)
    op.create_table(
        'invoice_line',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('invoice_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('description', _str(length=300), nullable=False),
        sa.Column('offer_code', _str(length=64), nullable=True),
        sa.Column('product_id', sa.Uuid(), nullable=True),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
        sa.Column('discount_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_category', _str(length=16), nullable=False),
        sa.Column('vat_rate', _str(length=10), nullable=False),
        sa.Column('net_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_minor', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_invoice_line_invoice_id'), 'invoice_line', ['invoice_id'], unique=False)
    op.create_table(
        'number_counter',
        sa.Column('series', _str(length=32), nullable=False),
        sa.Column('last_value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('series'),
    )
    op.create_table(
        'proforma',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('number', _str(length=32), nullable=False),
        sa.Column('currency', _str(length=3), nullable=False),
        sa.Column('total_minor', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
    )
    op.create_index(op.f('ix_proforma_organization_id'), 'proforma', ['organization_id'], unique=False)
    op.create_table(
        'topup_reference',
        sa.Column('reference', _str(length=40), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('currency', _str(length=3), nullable=False),
        sa.Column('created_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('reference'),
        sa.UniqueConstraint('organization_id', 'currency'),
    )
    op.create_table(
        'bank_import',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('file_hash', _str(length=64), nullable=False),
        sa.Column('message_id', _str(length=200), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('imported_by', sa.Uuid(), nullable=False),
        sa.Column('imported_at', _time(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('file_hash'),
    )
    op.create_table(
        'bank_payment',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('entry_ref', _str(length=200), nullable=False),
        sa.Column('import_id', sa.Uuid(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', _str(length=3), nullable=False),
        sa.Column('reference', _str(length=40), nullable=True),
        sa.Column('debtor_name', _str(length=200), nullable=True),
        sa.Column('booked_on', sa.Date(), nullable=True),
        sa.Column('status', _str(length=16), nullable=False),
        sa.Column('reason', _str(length=32), nullable=True),
        sa.Column('organization_id', sa.Uuid(), nullable=True),
        sa.Column('invoice_id', sa.Uuid(), nullable=True),
        sa.Column('assigned_by', sa.Uuid(), nullable=True),
        sa.Column('assigned_at', _time(), nullable=True),
        sa.Column('created_at', _time(), nullable=False),
        sa.ForeignKeyConstraint(['import_id'], ['bank_import.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('entry_ref'),
    )
    op.create_index(op.f('ix_bank_payment_status'), 'bank_payment', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bank_payment_status'), table_name='bank_payment')
    op.drop_table('bank_payment')
    op.drop_table('bank_import')
    op.drop_table('topup_reference')
    op.drop_index(op.f('ix_proforma_organization_id'), table_name='proforma')
    op.drop_table('proforma')
    op.drop_table('number_counter')
    op.drop_index(op.f('ix_invoice_line_invoice_id'), table_name='invoice_line')
    op.drop_table('invoice_line')
    op.drop_index('ix_invoice_org_issued', table_name='invoice')
    op.drop_table('invoice')
    with op.batch_alter_table('billing_account', schema=None) as batch_op:
        for column in ('language', 'vat_number', 'country', 'city', 'postal_code', 'street', 'kind'):
            batch_op.drop_column(column)
