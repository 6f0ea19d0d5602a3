"""Queries of invoices, references and bank payments."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import BankImport, BankPayment, Invoice, TopUpReference

# "pending" is what the guides call an open invoice
STATUS_ALIASES = {"pending": "open"}


@dataclass(frozen=True)
class InvoiceFilter:
    """A selection of an organization's invoices: status and issue dates (inclusive)."""

    status: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    kind: str | None = None

    def where(self, organization_id: uuid.UUID) -> list:
        clauses = [Invoice.organization_id == organization_id, Invoice.status != "draft"]
        if self.status:
            clauses.append(Invoice.status == STATUS_ALIASES.get(self.status, self.status))
        if self.kind:
            clauses.append(Invoice.kind == self.kind)
        if self.issued_from:
            clauses.append(Invoice.issued_at >= datetime.combine(self.issued_from, time.min, timezone.utc))
        if self.issued_to:
            end = datetime.combine(self.issued_to + timedelta(days=1), time.min, timezone.utc)
            clauses.append(Invoice.issued_at < end)
        return clauses


async def unpaid_invoice_count(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Open (issued, not yet paid, not cancelled) invoices of the organization."""
    return int((await session.execute(sa.select(sa.func.count()).select_from(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.kind == "invoice",
        Invoice.status == "open"))).scalar_one())


async def by_source_ref(session: AsyncSession, source_ref: str) -> Invoice | None:
    return (await session.execute(select(Invoice).where(Invoice.source_ref == source_ref))).scalar_one_or_none()


async def invoice(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice | None:
    return (await session.execute(select(Invoice).where(
        Invoice.id == invoice_id, Invoice.organization_id == organization_id,
        Invoice.status != "draft"))).scalar_one_or_none()


async def locked_invoices(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, Invoice]:
    """The invoices, row-locked (FOR UPDATE on PostgreSQL) and re-read, so a
    concurrent payment of the same invoice waits and then sees it paid."""
    rows = (await session.execute(select(Invoice).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id)
                                  .with_for_update().execution_options(populate_existing=True))).scalars()
    return {row.id: row for row in rows}


async def locked_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
    return (await locked_invoices(session, [invoice_id])).get(invoice_id)


async def invoice_by_reference(session: AsyncSession, reference: str) -> Invoice | None:
    return (await session.execute(select(Invoice).where(Invoice.payment_reference == reference)
                                  .with_for_update().execution_options(populate_existing=True))
            ).scalar_one_or_none()


async def list_invoices(session: AsyncSession, organization_id: uuid.UUID, selection: InvoiceFilter, *,
                        offset: int = 0, limit: int | None = None) -> tuple[list[Invoice], int]:
    where = selection.where(organization_id)
    total = int((await session.execute(sa.select(sa.func.count()).select_from(Invoice).where(*where))).scalar_one())
    query = select(Invoice).where(*where).order_by(Invoice.issued_at.desc(), Invoice.number.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars()), total


async def topup_reference(session: AsyncSession, organization_id: uuid.UUID, currency: str) -> TopUpReference | None:
    return (await session.execute(select(TopUpReference).where(
        TopUpReference.organization_id == organization_id, TopUpReference.currency == currency))).scalar_one_or_none()


async def topup_by_reference(session: AsyncSession, reference: str) -> TopUpReference | None:
    return await session.get(TopUpReference, reference)


async def bank_import_by_hash(session: AsyncSession, file_hash: str) -> BankImport | None:
    return (await session.execute(select(BankImport).where(BankImport.file_hash == file_hash))).scalar_one_or_none()


async def known_entry_refs(session: AsyncSession, refs: list[str]) -> set[str]:
    if not refs:
        return set()
    return set((await session.execute(sa.select(BankPayment.entry_ref).where(
        BankPayment.entry_ref.in_(refs)))).scalars())


async def unmatched_payments(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[BankPayment], int]:
    where = BankPayment.status == "unmatched"
    total = int((await session.execute(sa.select(sa.func.count()).select_from(BankPayment).where(where))).scalar_one())
    rows = (await session.execute(select(BankPayment).where(where).order_by(BankPayment.created_at, BankPayment.id)
                                  .offset(offset).limit(limit))).scalars()
    return list(rows), total


async def locked_bank_payment(session: AsyncSession, payment_id: uuid.UUID) -> BankPayment | None:
    return (await session.execute(select(BankPayment).where(BankPayment.id == payment_id).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one_or_none()
