"""Request and response bodies of invoices and bank transfers."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["pending", "open", "paid", "cancelled", "refunded", "issued"]
Language = Literal["en", "de", "fr", "it", "es"]


class InvoiceLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    description: str
    offer_code: str | None
    product_id: uuid.UUID | None
    period_start: date | None
    period_end: date | None
    quantity: int
    unit_price_minor: int
    discount_minor: int
    vat_category: str
    vat_rate: str = Field(description="Decimal fraction, e.g. 0.081 for 8.1 %")
    net_minor: int


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: Literal["invoice", "credit_note"]
    number: str
    status: str = Field(description="open (pending payment), paid, cancelled, refunded; credit notes: issued")
    currency: str
    issued_at: datetime
    due_on: date | None
    paid_at: datetime | None
    paid_means: str | None
    net_minor: int
    vat_minor: int
    total_minor: int
    refunded_minor: int
    vat_treatment: str
    payment_reference: str | None
    credited_invoice_id: uuid.UUID | None
    lines: list[InvoiceLineRead]


class InvoicePage(BaseModel):
    items: list[InvoiceRead]
    total: int
    page: int
    page_size: int


class ExportRequest(BaseModel):
    """The selection to send by e-mail: the same filters as the list."""

    status: Status | None = None
    issued_from: date | None = None
    issued_to: date | None = None


class ExportAccepted(BaseModel):
    invoice_count: int
    filename: str
    size_bytes: int


class InvoiceDetails(BaseModel):
    """What invoices to the organization say besides its address."""

    vat_number: str | None = Field(default=None, max_length=32)
    language: Language = "en"


class OfferLine(BaseModel):
    offer_code: str = Field(min_length=1, max_length=80)
    period: str = Field(min_length=1, max_length=20)
    quantity: int = Field(default=1, ge=1, le=10_000)


class ProFormaRequest(BaseModel):
    """Open invoices and/or offers (renewals, orders) to show before paying."""

    invoice_ids: list[uuid.UUID] = Field(default=[], max_length=100)
    offers: list[OfferLine] = Field(default=[], max_length=100)
    language: Language | None = None


class TopUpSlip(BaseModel):
    reference: str
    currency: str
    iban: str
    creditor_name: str
    qr_bill_svg: str | None = Field(description="CHF: the QR-bill payment part (no amount: the payer fills it in)")


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class RefundRequest(BaseModel):
    amount_minor: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=200)


class BankImportRead(BaseModel):
    import_id: uuid.UUID
    duplicate: bool
    credits: int
    matched: int
    unmatched: int
    already_known: int


class BankPaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entry_ref: str
    amount_minor: int
    currency: str
    reference: str | None
    debtor_name: str | None
    booked_on: date | None
    status: str
    reason: str | None
    organization_id: uuid.UUID | None
    invoice_id: uuid.UUID | None
    created_at: datetime


class BankPaymentPage(BaseModel):
    items: list[BankPaymentRead]
    total: int
    page: int
    page_size: int


class AssignRequest(BaseModel):
    """Exactly one target: an open invoice, or an organization's prepaid balance."""

    invoice_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "AssignRequest":
        if (self.invoice_id is None) == (self.organization_id is None):
            raise ValueError("give exactly one of invoice_id and organization_id")
        return self
