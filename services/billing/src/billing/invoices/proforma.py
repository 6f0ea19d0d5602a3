"""Pro forma invoices (BIL-07): a PDF of selected open invoices and offers
before paying, numbered in its own series (PF-2026-000001), marked as
having no legal value; it never takes an invoice number."""
from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.errors import Conflict, DomainError

from ..models import BillingAccount
from . import numbering, repository as repo, vat
from .errors import InvoiceNotFound, InvoiceNotPayable
from .models import NumberCounter, ProForma
from .pdf import DocLine, Document, Party, document_of, render
from .schemas import OfferLine
from .totals import compute, line_net


class ProFormaEmpty(DomainError):
    code, status, message = "proforma_empty", 422, "Select at least one open invoice or offer."


class ProFormaCurrencies(Conflict):
    code, message = "proforma_mixed_currencies", "The selected items are in different currencies."


async def _invoice_lines(session: AsyncSession, account: BillingAccount, invoice_ids: list[uuid.UUID]):
    lines: list[DocLine] = []
    for invoice_id in dict.fromkeys(invoice_ids):
        invoice = await repo.invoice(session, account.organization_id, invoice_id)
        if invoice is None or invoice.kind != "invoice":
            raise InvoiceNotFound(invoice_id=str(invoice_id))
        if invoice.status != "open":
            raise InvoiceNotPayable(invoice_id=str(invoice_id))
        if invoice.currency != account.currency:
            raise ProFormaCurrencies()
        lines += [replace(line, description=f"{invoice.number}: {line.description}")
                  for line in document_of(invoice).lines]
    return lines


async def _offer_lines(session: AsyncSession, account: BillingAccount, offers: list[OfferLine], catalogue,
                       seller_country: str) -> list[DocLine]:
    treatment = vat.treatment(seller_country, account.country, account.vat_number, account.kind != "private")
    lines = []
    for offer in offers:
        price = await catalogue.price(session, offer.offer_code, account.currency, offer.period,
                                      quantity=offer.quantity)
        net = line_net(offer.quantity, price.unit_price_minor)
        lines.append(DocLine(f"{offer.offer_code} ({offer.period})", "", offer.quantity, price.unit_price_minor, 0,
                             net, treatment.rate(getattr(price, "vat_category", "standard") or "standard")))
    return lines


async def issue(session: AsyncSession, *, account: BillingAccount, created_by: uuid.UUID,
                invoice_ids: list[uuid.UUID], offers: list[OfferLine], catalogue, settings, now,
                language: str | None) -> tuple[ProForma, bytes]:
    """Number the pro forma in its series and draw it."""
    if not invoice_ids and not offers:
        raise ProFormaEmpty()
    lines = await _invoice_lines(session, account, invoice_ids)
    if offers:
        lines += await _offer_lines(session, account, offers, catalogue, settings.seller_country)
    total = compute((line.net_minor, Decimal(line.vat_rate)) for line in lines).total_minor
    number = await numbering.next_number(session, NumberCounter.__table__, "proforma", now.year)
    record = ProForma(organization_id=account.organization_id, number=number, currency=account.currency,
                      total_minor=total, created_by=created_by, created_at=now)
    session.add(record)
    document = Document(kind="proforma", number=number, issued_on=now.date(), currency=account.currency,
                        language=language or account.language, lines=lines,
                        buyer=Party(account.organization_name, account.street, account.postal_code, account.city,
                                    account.country or settings.seller_country, account.vat_number),
                        vat_treatment=vat.treatment(settings.seller_country, account.country, account.vat_number,
                                                    account.kind != "private").kind)
    return record, render(document, settings)
