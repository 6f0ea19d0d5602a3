"""prepaid ledger, idempotency keys, payments (BIL-02, BIL-03, BIL-10)

Revision ID: 0008
Revises: 0007
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401

import manager_shared.db  # noqa: F401  (UtcDateTime)


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the balance never goes below zero (BIL-02): the CHECK is the last guard
    # behind the ledger's conditional UPDATE
    op.create_table('billing_standing_published',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('unpaid_invoices', sa.Integer(), nullable=False),
    sa.Column('prepaid_balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('organization_id')
    )
    op.create_table('idempotency_key',
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key')
    )
    op.create_index(op.f('ix_idempotency_key_created_at'), 'idempotency_key', ['created_at'], unique=False)
    op.create_table('payment_attempt',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('invoice_ids', sa.Text(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('prepaid_minor', sa.BigInteger(), nullable=False),
    sa.Column('card_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('provider_payment_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('failure_reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_payment_id')
    )
    op.create_index(op.f('ix_payment_attempt_organization_id'), 'payment_attempt', ['organization_id'], unique=False)
    op.create_table('payment_webhook_receipt',
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('webhook_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'webhook_id')
    )
    op.create_index(op.f('ix_payment_webhook_receipt_received_at'), 'payment_webhook_receipt', ['received_at'], unique=False)
    op.create_table('prepaid_account',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance_minor >= 0', name='ck_prepaid_account_balance_not_negative'),
    sa.PrimaryKeyConstraint('organization_id')
    )
    op.create_table('prepaid_ledger_entry',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('balance_after_minor', sa.BigInteger(), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'seq', name='uq_prepaid_ledger_entry_seq')
    )
    op.create_table('prepaid_top_up',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('provider_payment_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('failure_reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_payment_id')
    )
    op.create_index(op.f('ix_prepaid_top_up_organization_id'), 'prepaid_top_up', ['organization_id'], unique=False)
    op.create_table('prepaid_withdrawal',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('iban', sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
    sa.Column('account_holder', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_prepaid_withdrawal_organization_id'), 'prepaid_withdrawal', ['organization_id'], unique=False)
    op.create_table('prepaid_withdrawal_part',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('withdrawal_id', sa.Uuid(), nullable=False),
    sa.Column('top_up_id', sa.Uuid(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_ref')
    )
    op.create_index(op.f('ix_prepaid_withdrawal_part_withdrawal_id'), 'prepaid_withdrawal_part', ['withdrawal_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_prepaid_withdrawal_part_withdrawal_id'), table_name='prepaid_withdrawal_part')
    op.drop_table('prepaid_withdrawal_part')
    op.drop_index(op.f('ix_prepaid_withdrawal_organization_id'), table_name='prepaid_withdrawal')
    op.drop_table('prepaid_withdrawal')
    op.drop_index(op.f('ix_prepaid_top_up_organization_id'), table_name='prepaid_top_up')
    op.drop_table('prepaid_top_up')
    op.drop_table('prepaid_ledger_entry')
    op.drop_table('prepaid_account')
    op.drop_index(op.f('ix_payment_webhook_receipt_received_at'), table_name='payment_webhook_receipt')
    op.drop_table('payment_webhook_receipt')
    op.drop_index(op.f('ix_payment_attempt_organization_id'), table_name='payment_attempt')
    op.drop_table('payment_attempt')
    op.drop_index(op.f('ix_idempotency_key_created_at'), table_name='idempotency_key')
    op.drop_table('idempotency_key')
    op.drop_table('billing_standing_published')
