"""Tables of the payment means; they join billing's one registry (billing.models.Base)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from manager_shared.db import UtcDateTime

from ..models import Base


class WebhookReceipt(Base, table=True):
    """Every provider webhook id accepted once: a replayed one is refused."""

    __tablename__ = "payment_webhook_receipt"

    provider: str = Field(primary_key=True, max_length=30)
    webhook_id: str = Field(primary_key=True, max_length=100)
    received_at: datetime = Field(sa_type=UtcDateTime(), index=True)


class PaymentAttempt(Base, table=True):
    """A payment of selected invoices (BIL-03): the prepaid part is held
    (debited) and the card charged; pending while 3-D Secure waits; the
    invoices are marked paid only when the card part succeeded."""

    __tablename__ = "payment_attempt"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    invoice_ids: str = Field(sa_type=sa.Text())  # JSON list of UUID strings
    currency: str = Field(max_length=3)
    prepaid_minor: int = Field(sa_type=sa.BigInteger())
    card_minor: int = Field(sa_type=sa.BigInteger())
    status: str = Field(max_length=20)  # pending, succeeded, failed, expired, credited, refunded (payments.late_charge)
    provider: str | None = Field(default=None, max_length=30)
    provider_payment_id: str | None = Field(default=None, max_length=100, sa_column_kwargs={"unique": True})
    failure_reason: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UtcDateTime())
    expires_at: datetime = Field(sa_type=UtcDateTime())
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
