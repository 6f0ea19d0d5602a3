"""Events published by billing about invoices and bank transfers, on
`billing.invoice.v1` (key: organization id). Money is `amount_minor`-style
integers plus a currency; never card data, tokens or secrets."""
from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from .base import Event

# InvoicesExported carries the CSV itself for notifications to attach; an
# export larger than this is refused with a stable code instead of sent.
MAX_EXPORT_CSV_BYTES = 256 * 1024


class _InvoiceEvent(Event):
    topic: ClassVar[str] = "billing.invoice.v1"
    producer_name: ClassVar[str] = "billing"
    key_field: ClassVar[str] = "organization_id"


class InvoiceIssued(_InvoiceEvent):
    """Sent when an invoice is finalised (BIL-06): open, numbered, to be paid
    by `due_on`; `payment_reference` is the QR reference (CHF) or ISO 11649
    creditor reference (EUR) a bank transfer must carry."""

    type: Literal["InvoiceIssued"] = "InvoiceIssued"
    organization_id: UUID
    invoice_id: UUID
    number: str
    issued_at: datetime
    due_on: date
    net_minor: int
    vat_minor: int
    total_minor: int
    currency: Literal["CHF", "EUR"]
    payment_reference: str | None = None


class InvoicePaid(_InvoiceEvent):
    """Sent when an open invoice is paid in full (BIL-03, BIL-06), by
    `means` (prepaid, card, bank_transfer, ...)."""

    type: Literal["InvoicePaid"] = "InvoicePaid"
    organization_id: UUID
    invoice_id: UUID
    number: str
    total_minor: int
    currency: Literal["CHF", "EUR"]
    means: str
    paid_at: datetime


class InvoiceCancelled(_InvoiceEvent):
    """Sent when an open invoice is cancelled; it keeps its number (the
    series stays gap-free) and can no longer be paid."""

    type: Literal["InvoiceCancelled"] = "InvoiceCancelled"
    organization_id: UUID
    invoice_id: UUID
    number: str
    total_minor: int
    currency: Literal["CHF", "EUR"]
    reason: str


class CreditNoteIssued(_InvoiceEvent):
    """Sent when (part of) a paid invoice is refunded: a credit note with its
    own number for `amount_minor`, credited to the prepaid balance."""

    type: Literal["CreditNoteIssued"] = "CreditNoteIssued"
    organization_id: UUID
    credit_note_id: UUID
    number: str
    invoice_id: UUID
    invoice_number: str
    amount_minor: int
    vat_minor: int
    currency: Literal["CHF", "EUR"]
    fully_refunded: bool


class InvoicesExported(_InvoiceEvent):
    """Sent when a member asked for a selection of invoices by e-mail
    (BIL-06): notifications mails `csv` (at most MAX_EXPORT_CSV_BYTES,
    UTF-8) as `filename` to `requested_by`."""

    type: Literal["InvoicesExported"] = "InvoicesExported"
    organization_id: UUID
    requested_by: UUID
    invoice_count: int
    filename: str
    csv: str


class BankPaymentUnmatched(_InvoiceEvent):
    """Sent when an imported bank credit matched no open invoice or top-up
    reference with its exact amount (BIL-03): it waits in the queue for a
    person to assign. `organization_id` is set when the reference named one;
    otherwise the key is the bank payment id."""

    type: Literal["BankPaymentUnmatched"] = "BankPaymentUnmatched"
    bank_payment_id: UUID
    organization_id: UUID | None = None
    amount_minor: int
    currency: str
    reference: str | None
    reason: Literal["unknown_reference", "amount_mismatch", "not_open", "currency_mismatch"]
    booked_on: date | None


class BankPaymentAssigned(_InvoiceEvent):
    """Sent when an operator assigned a queued bank credit to an invoice or
    to an organization's prepaid balance."""

    type: Literal["BankPaymentAssigned"] = "BankPaymentAssigned"
    bank_payment_id: UUID
    organization_id: UUID
    target: Literal["invoice", "prepaid"]
    invoice_id: UUID | None = None
    amount_minor: int
    currency: str
    assigned_by: UUID


# Every event of this module, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    InvoiceIssued, InvoicePaid, InvoiceCancelled, CreditNoteIssued, InvoicesExported, BankPaymentUnmatched,
    BankPaymentAssigned,
)
__all__ = [e.__name__ for e in EVENTS]
