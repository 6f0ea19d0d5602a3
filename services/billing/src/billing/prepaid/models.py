"""Tables of the prepaid account; they join billing's one registry (billing.models.Base)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from manager_shared.db import UtcDateTime

from ..models import Base


class PrepaidAccount(Base, table=True):
    """The balance of one organization (BIL-02): always the sum of its ledger.
    Every change is one conditional UPDATE of this row (the per-account lock)."""

    __tablename__ = "prepaid_account"
    __table_args__ = (sa.CheckConstraint("balance_minor >= 0", name="ck_prepaid_account_balance_not_negative"),)

    organization_id: uuid.UUID = Field(primary_key=True)
    currency: str = Field(max_length=3)
    balance_minor: int = Field(default=0, sa_type=sa.BigInteger())
    # the number of ledger entries: the next entry's `seq`, so entries are gap-free per account
    entries: int = 0
    updated_at: datetime = Field(sa_type=UtcDateTime())


class LedgerEntry(Base, table=True):
    """One immutable movement of a prepaid balance: signed minor units, why
    (`cause`) and what it refers to (`reference`), and the balance after it."""

    __tablename__ = "prepaid_ledger_entry"
    __table_args__ = (sa.UniqueConstraint("organization_id", "seq", name="uq_prepaid_ledger_entry_seq"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    seq: int
    kind: str = Field(max_length=20)  # top_up, payment, refund, withdrawal, adjustment
    amount_minor: int = Field(sa_type=sa.BigInteger())  # + credit, - debit
    currency: str = Field(max_length=3)
    balance_after_minor: int = Field(sa_type=sa.BigInteger())
    cause: str = Field(max_length=200)
    reference: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime())


class TopUp(Base, table=True):
    """A card top-up: pending (3-D Secure) until the provider says, then
    succeeded (credited), failed or expired. `refunded_minor` is what
    withdrawals have sent back to its card."""

    __tablename__ = "prepaid_top_up"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    amount_minor: int = Field(sa_type=sa.BigInteger())
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)  # pending, succeeded, failed, expired, refunded (late_charge)
    provider: str = Field(max_length=30)
    provider_payment_id: str | None = Field(default=None, max_length=100, sa_column_kwargs={"unique": True})
    failure_reason: str | None = Field(default=None, max_length=40)
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger())
    created_at: datetime = Field(sa_type=UtcDateTime())
    expires_at: datetime = Field(sa_type=UtcDateTime())
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime())


class Withdrawal(Base, table=True):
    """A withdrawal of the balance (BIL-10), debited at once, paid out in
    parts (one refund per top-up card, or one bank payout)."""

    __tablename__ = "prepaid_withdrawal"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    amount_minor: int = Field(sa_type=sa.BigInteger())
    currency: str = Field(max_length=3)
    destination: str = Field(max_length=10)  # card, iban
    iban: str | None = Field(default=None, max_length=34)
    account_holder: str | None = Field(default=None, max_length=140)
    status: str = Field(max_length=20)  # pending, completed, failed, partially_failed
    requested_by: uuid.UUID
    created_at: datetime = Field(sa_type=UtcDateTime())
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime())


class WithdrawalPart(Base, table=True):
    """One payout of a withdrawal: a refund to one top-up's card, or the bank payout."""

    __tablename__ = "prepaid_withdrawal_part"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    withdrawal_id: uuid.UUID = Field(index=True)
    top_up_id: uuid.UUID | None = None
    amount_minor: int = Field(sa_type=sa.BigInteger())
    provider_ref: str | None = Field(default=None, max_length=100, sa_column_kwargs={"unique": True})
    status: str = Field(max_length=20)  # pending, succeeded, failed


class IdempotencyKey(Base, table=True):
    """A request that moves money, by caller + organization and key: claimed
    (committed) before the work, its response stored with the work."""

    __tablename__ = "idempotency_key"

    scope: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    status: str = Field(max_length=12)  # in_progress, done
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text())
    created_at: datetime = Field(sa_type=UtcDateTime(), index=True)
    lease_until: datetime = Field(sa_type=UtcDateTime())


class PublishedStanding(Base, table=True):
    """The last BillingStandingChanged of an organization: a new one only when it differs."""

    __tablename__ = "billing_standing_published"

    organization_id: uuid.UUID = Field(primary_key=True)
    unpaid_invoices: int = 0
    prepaid_balance_minor: int = Field(default=0, sa_type=sa.BigInteger())
    currency: str = Field(max_length=3)
    version: int = 0
