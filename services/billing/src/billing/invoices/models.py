"""Tables of this feature; they join billing's one registry (billing.models.Base).

No `from __future__ import annotations` here: SQLModel resolves the
Relationship's type from the real annotation."""
import uuid
from datetime import date, datetime
from typing import List, Optional

import sqlalchemy as sa
from sqlmodel import Field, Relationship

from manager_shared.db import UtcDateTime

from ..models import Base


class Invoice(Base, table=True):
    """An invoice or a credit note (BIL-06). `number` is given at
    finalisation from the series' counter and never changes or returns."""

    __tablename__ = "invoice"
    __table_args__ = (sa.Index("ix_invoice_org_issued", "organization_id", "issued_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    kind: str = Field(default="invoice", max_length=16)  # invoice | credit_note
    number: Optional[str] = Field(default=None, max_length=32, sa_column_kwargs={"unique": True})
    status: str = Field(default="draft", max_length=16)  # draft, open, paid, cancelled, refunded
    currency: str = Field(max_length=3)
    source_ref: Optional[str] = Field(default=None, max_length=200, sa_column_kwargs={"unique": True})
    issued_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime())
    due_on: Optional[date] = None
    paid_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime())
    paid_means: Optional[str] = Field(default=None, max_length=32)
    paid_reference: Optional[str] = Field(default=None, max_length=200)
    net_minor: int = Field(default=0, sa_type=sa.BigInteger())
    vat_minor: int = Field(default=0, sa_type=sa.BigInteger())
    total_minor: int = Field(default=0, sa_type=sa.BigInteger())
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger())
    vat_treatment: str = Field(default="domestic", max_length=24)
    payment_reference: Optional[str] = Field(default=None, max_length=40, sa_column_kwargs={"unique": True})
    credited_invoice_id: Optional[uuid.UUID] = None
    buyer_name: str = Field(default="", max_length=200)
    buyer_street: str = Field(default="", max_length=200)
    buyer_postal_code: str = Field(default="", max_length=20)
    buyer_city: str = Field(default="", max_length=100)
    buyer_country: str = Field(default="", max_length=2)
    buyer_vat_number: Optional[str] = Field(default=None, max_length=32)
    buyer_is_business: bool = False
    language: str = Field(default="en", max_length=2)
    created_at: datetime = Field(sa_type=UtcDateTime())

    lines: List["InvoiceLine"] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "order_by": "InvoiceLine.position"})


class InvoiceLine(Base, table=True):
    """One line: product, period, quantity × unit price − discount, and the
    VAT rate that applied (a decimal string, e.g. "0.081")."""

    __tablename__ = "invoice_line"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    invoice_id: uuid.UUID = Field(foreign_key="invoice.id", index=True)
    position: int
    description: str = Field(max_length=300)
    offer_code: Optional[str] = Field(default=None, max_length=64)
    product_id: Optional[uuid.UUID] = None
    period_start: Optional[date] = None
    period_end: Optional[date] = None
    quantity: int
    unit_price_minor: int = Field(sa_type=sa.BigInteger())
    discount_minor: int = Field(default=0, sa_type=sa.BigInteger())
    vat_category: str = Field(default="standard", max_length=16)
    vat_rate: str = Field(max_length=10)
    net_minor: int = Field(sa_type=sa.BigInteger())
    # credit notes only: the VAT refunded at this line's rate (see totals.stated)
    vat_minor: Optional[int] = Field(default=None, sa_type=sa.BigInteger())


class NumberCounter(Base, table=True):
    """The last number given per series ("2026", "CN-2026", "PF-2026",
    "TOPUP"): taken under the row's lock, so numbers are gap-free and unique."""

    __tablename__ = "number_counter"

    series: str = Field(primary_key=True, max_length=32)
    last_value: int = 0


class ProForma(Base, table=True):
    """A pro forma issued (BIL-07): its own series, no legal value; kept so
    its number is never given twice."""

    __tablename__ = "proforma"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    number: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    currency: str = Field(max_length=3)
    total_minor: int = Field(sa_type=sa.BigInteger())
    created_by: uuid.UUID
    created_at: datetime = Field(sa_type=UtcDateTime())


class TopUpReference(Base, table=True):
    """The transfer reference of an organization's prepaid top-ups (BIL-02,
    BIL-03): a credit carrying it goes to that prepaid balance."""

    __tablename__ = "topup_reference"
    __table_args__ = (sa.UniqueConstraint("organization_id", "currency"),)

    reference: str = Field(primary_key=True, max_length=40)
    organization_id: uuid.UUID
    currency: str = Field(max_length=3)
    created_at: datetime = Field(sa_type=UtcDateTime())


class BankImport(Base, table=True):
    """One imported camt.054 file; its SHA-256 makes a second import of the
    same file a no-op."""

    __tablename__ = "bank_import"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    file_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    message_id: str = Field(max_length=200)
    entries: int = 0
    matched: int = 0
    imported_by: uuid.UUID
    imported_at: datetime = Field(sa_type=UtcDateTime())


class BankPayment(Base, table=True):
    """One bank credit from a camt.054 (unique by the bank's entry
    reference): matched, or queued (`unmatched`) until a person assigns it."""

    __tablename__ = "bank_payment"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    entry_ref: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    import_id: uuid.UUID = Field(foreign_key="bank_import.id")
    amount_minor: int = Field(sa_type=sa.BigInteger())
    currency: str = Field(max_length=3)
    reference: Optional[str] = Field(default=None, max_length=40)
    debtor_name: Optional[str] = Field(default=None, max_length=200)
    booked_on: Optional[date] = None
    status: str = Field(max_length=16, index=True)  # matched | unmatched | assigned
    reason: Optional[str] = Field(default=None, max_length=32)
    organization_id: Optional[uuid.UUID] = None
    invoice_id: Optional[uuid.UUID] = None
    assigned_by: Optional[uuid.UUID] = None
    assigned_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime())
    created_at: datetime = Field(sa_type=UtcDateTime())
