"""Events published by billing on `billing.account.v1` (key: organization id):
the billing account, its prepaid balance and its payments by card."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from .base import Event

Currency = Literal["CHF", "EUR"]


class _AccountEvent(Event):
    topic: ClassVar[str] = "billing.account.v1"
    producer_name: ClassVar[str] = "billing"
    key_field: ClassVar[str] = "organization_id"


class BillingAccountOpened(_AccountEvent):
    """Sent when billing has opened the billing account of an organization
    (BIL-01), with the currency its invoices will use."""

    type: Literal["BillingAccountOpened"] = "BillingAccountOpened"
    organization_id: UUID
    billing_account_id: UUID
    currency: Literal["CHF", "EUR"]


class BillingStandingChanged(_AccountEvent):
    """Sent when the organization's unpaid invoices or prepaid balance change
    (ORG-14: an organization with either cannot be deleted). `standing_version`
    grows by one per change: a consumer keeps the highest it has seen."""

    type: Literal["BillingStandingChanged"] = "BillingStandingChanged"
    organization_id: UUID
    unpaid_invoices: int
    prepaid_balance_minor: int
    currency: Currency
    standing_version: int


class PrepaidTopUpCredited(_AccountEvent):
    """Sent when a top-up of the prepaid balance was paid and credited (BIL-02),
    with the new balance: the receipt mail's content. By card, `top_up_id` is
    the top-up's id; by bank transfer matched automatically on the camt.054
    import (BIL-03), it is the id of the bank payment."""

    type: Literal["PrepaidTopUpCredited"] = "PrepaidTopUpCredited"
    organization_id: UUID
    top_up_id: UUID
    amount_minor: int
    currency: Currency
    balance_minor: int
    means: Literal["card", "bank_transfer"] = "card"


class PaymentActionRequired(_AccountEvent):
    """Sent when a card payment waits for the cardholder (3-D Secure): nothing
    is credited or marked paid until it completes or expires at `expires_at`."""

    type: Literal["PaymentActionRequired"] = "PaymentActionRequired"
    organization_id: UUID
    payment_id: UUID
    purpose: Literal["top_up", "invoices"]
    amount_minor: int
    currency: Currency
    expires_at: datetime


class PaymentFailed(_AccountEvent):
    """Sent when a card payment failed (declined, insufficient funds, failed
    or abandoned 3-D Secure): no money moved, no invoice was marked paid."""

    type: Literal["PaymentFailed"] = "PaymentFailed"
    organization_id: UUID
    payment_id: UUID
    purpose: Literal["top_up", "invoices"]
    amount_minor: int
    currency: Currency
    # invoice_not_payable: 3-D Secure completed after an invoice of the
    # selection was paid or cancelled otherwise; the card's amount and the
    # prepaid part are then on the prepaid balance
    reason: Literal["declined", "insufficient_funds", "authentication_failed", "expired", "invoice_not_payable"]
    invoice_numbers: list[str] = []


class PaymentCompleted(_AccountEvent):
    """Sent when a selection of invoices was paid together (BIL-03): what the
    prepaid balance and the card each covered."""

    type: Literal["PaymentCompleted"] = "PaymentCompleted"
    organization_id: UUID
    payment_id: UUID
    invoice_ids: list[UUID]
    invoice_numbers: list[str] = []
    prepaid_minor: int
    card_minor: int
    currency: Currency


class PrepaidWithdrawalCompleted(_AccountEvent):
    """Sent when a withdrawal of the prepaid balance (BIL-10) was paid out in
    full, to the card(s) it came from or to a bank account (last 4 of the IBAN)."""

    type: Literal["PrepaidWithdrawalCompleted"] = "PrepaidWithdrawalCompleted"
    organization_id: UUID
    withdrawal_id: UUID
    amount_minor: int
    currency: Currency
    destination: Literal["card", "iban"]
    iban_last4: str | None = None


class PrepaidWithdrawalFailed(_AccountEvent):
    """Sent when (a part of) a withdrawal's payout failed: that amount is back
    on the prepaid balance (`credited_back_minor`)."""

    type: Literal["PrepaidWithdrawalFailed"] = "PrepaidWithdrawalFailed"
    organization_id: UUID
    withdrawal_id: UUID
    credited_back_minor: int
    currency: Currency
    balance_minor: int


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    BillingAccountOpened, BillingStandingChanged, PrepaidTopUpCredited, PaymentActionRequired, PaymentFailed,
    PaymentCompleted, PrepaidWithdrawalCompleted, PrepaidWithdrawalFailed,
)
__all__ = [e.__name__ for e in EVENTS]
