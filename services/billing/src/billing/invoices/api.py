"""Invoices over HTTP (BIL-06, BIL-07, BIL-03): thin routers, rules in
service.py; for legal representatives, administrators and members with the
accounting right (404 for anyone else)."""
from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.events.invoices import MAX_EXPORT_CSV_BYTES, InvoicesExported
from manager_shared.runtime import current_principal

from ..db import get_session
from . import csv_export, facturx, pdf, proforma, qrbill, repository as repo, vat
from .errors import (ExportTooLarge, InvoiceNotFound, InvoiceNotOpen, InvoiceNotPaid,
                     NotABusinessInvoice)
from .repository import InvoiceFilter
from .schemas import (ExportAccepted, ExportRequest, InvoiceDetails, InvoicePage, InvoiceRead, Language,
                      ProFormaRequest, Status, TopUpSlip)
from .service import Invoices

router = APIRouter(prefix="/v1/organizations/{organization_id}", tags=["invoices"])
PDF = "application/pdf"


def invoices_of(request: Request) -> Invoices:
    return request.app.state.invoices


def _filter(status: Status | None = None, issued_from: date | None = None,
            issued_to: date | None = None) -> InvoiceFilter:
    return InvoiceFilter(status=status, issued_from=issued_from, issued_to=issued_to)


async def _invoice(request: Request, session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                   who: Principal):
    await invoices_of(request).account_for(session, organization_id, who.account_id)
    invoice = await repo.invoice(session, organization_id, invoice_id)
    if invoice is None:
        raise InvoiceNotFound()
    return invoice


def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, media_type=PDF, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/invoices", response_model=InvoicePage)
async def list_invoices(organization_id: uuid.UUID, request: Request, selection: InvoiceFilter = Depends(_filter),
                        page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(20, ge=1, le=100),
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """The organization's invoices and credit notes, newest first; filter by
    status (pending = open, paid, cancelled, refunded) and issue dates (inclusive)."""
    await invoices_of(request).account_for(session, organization_id, who.account_id)
    items, total = await repo.list_invoices(session, organization_id, selection, offset=(page - 1) * page_size,
                                            limit=page_size)
    return InvoicePage(items=[InvoiceRead.model_validate(i) for i in items], total=total, page=page,
                       page_size=page_size)


@router.get("/invoices.csv", response_class=StreamingResponse)
async def export_csv(organization_id: uuid.UUID, request: Request, selection: InvoiceFilter = Depends(_filter),
                     who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """The filtered selection as CSV (UTF-8, one row per invoice)."""
    await invoices_of(request).account_for(session, organization_id, who.account_id)
    items, _ = await repo.list_invoices(session, organization_id, selection)
    return StreamingResponse(csv_export.rows(items), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="invoices.csv"'})


@router.post("/invoices/export-email", response_model=ExportAccepted, status_code=202)
async def export_by_email(organization_id: uuid.UUID, body: ExportRequest, request: Request,
                          who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Send the filtered selection as a CSV attachment to the caller's e-mail
    address (through notifications); at most 256 KiB of CSV, else 422 export_too_large."""
    await invoices_of(request).account_for(session, organization_id, who.account_id)
    items, _ = await repo.list_invoices(session, organization_id, InvoiceFilter(**body.model_dump()))
    content = csv_export.text(items)
    size = len(content.encode())
    if size > MAX_EXPORT_CSV_BYTES:
        raise ExportTooLarge(size_bytes=size, max_bytes=MAX_EXPORT_CSV_BYTES)
    filename = f"invoices-{invoices_of(request).clock.now().date().isoformat()}.csv"
    await invoices_of(request).outbox.record(session, InvoicesExported(
        organization_id=organization_id, requested_by=who.account_id, invoice_count=len(items), filename=filename,
        csv=content))
    return ExportAccepted(invoice_count=len(items), filename=filename, size_bytes=size)


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead)
async def get_invoice(organization_id: uuid.UUID, invoice_id: uuid.UUID, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """One invoice or credit note with its lines."""
    return InvoiceRead.model_validate(await _invoice(request, session, organization_id, invoice_id, who))


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, responses={200: {"content": {PDF: {}}}})
async def invoice_pdf(organization_id: uuid.UUID, invoice_id: uuid.UUID, request: Request,
                      language: Language | None = None, who: Principal = Depends(current_principal),
                      session: AsyncSession = Depends(get_session, scope="function")):
    """The final invoice (or credit note) as PDF, once paid (409
    invoice_not_paid before: an open invoice has its payment slip instead)."""
    invoice = await _invoice(request, session, organization_id, invoice_id, who)
    if invoice.kind == "invoice" and invoice.status not in ("paid", "refunded"):
        raise InvoiceNotPaid()
    document = pdf.document_of(invoice)
    document.language = language or document.language
    return _pdf(pdf.render(document, invoices_of(request).settings), f"{invoice.number}.pdf")


@router.get("/invoices/{invoice_id}/payment-slip", response_class=Response,
            responses={200: {"content": {PDF: {}}}})
async def payment_slip(organization_id: uuid.UUID, invoice_id: uuid.UUID, request: Request,
                       language: Language | None = None, who: Principal = Depends(current_principal),
                       session: AsyncSession = Depends(get_session, scope="function")):
    """An open invoice to pay by bank transfer: CHF with the Swiss QR-bill
    payment part (QR reference), EUR with IBAN and ISO 11649 creditor reference."""
    invoice = await _invoice(request, session, organization_id, invoice_id, who)
    if invoice.kind != "invoice" or invoice.status != "open":
        raise InvoiceNotOpen()
    document = pdf.document_of(invoice)
    document.language = language or document.language
    content = pdf.render(document, invoices_of(request).settings, payment_part=True)
    return _pdf(content, f"{invoice.number}-payment.pdf")


@router.get("/invoices/{invoice_id}/facturx", response_class=Response, responses={200: {"content": {PDF: {}}}})
async def invoice_facturx(organization_id: uuid.UUID, invoice_id: uuid.UUID, request: Request,
                          who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """The paid invoice of a business as Factur-X (PDF/A-3 with EN 16931 XML, profile BASIC)."""
    invoice = await _invoice(request, session, organization_id, invoice_id, who)
    if not invoice.buyer_is_business:
        raise NotABusinessInvoice()
    if invoice.kind == "invoice" and invoice.status not in ("paid", "refunded"):
        raise InvoiceNotPaid()
    settings = invoices_of(request).settings
    content = facturx.embed(pdf.render(pdf.document_of(invoice), settings), invoice, settings)
    return _pdf(content, f"{invoice.number}-facturx.pdf")


@router.get("/invoice-details", response_model=InvoiceDetails)
async def get_invoice_details(organization_id: uuid.UUID, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """VAT number and language that invoices to the organization use."""
    account = await invoices_of(request).account_for(session, organization_id, who.account_id)
    return InvoiceDetails(vat_number=account.vat_number, language=account.language)


@router.put("/invoice-details", response_model=InvoiceDetails)
async def set_invoice_details(organization_id: uuid.UUID, body: InvoiceDetails, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """VAT number (checked for the billing country: EU VAT numbers decide
    reverse charge) and language of future invoices."""
    account = await invoices_of(request).account_for(session, organization_id, who.account_id)
    number = vat.normalized_vat_number(body.vat_number, account.country)
    account.vat_number, account.language = number, body.language
    return InvoiceDetails(vat_number=number, language=body.language)


@router.post("/proforma", response_class=Response, responses={200: {"content": {PDF: {}}}})
async def create_proforma(organization_id: uuid.UUID, body: ProFormaRequest, request: Request,
                          who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """A pro forma PDF (no legal value, own PF- series) for open invoices
    and/or offers priced from the catalogue, before paying (BIL-07)."""
    invoices = invoices_of(request)
    account = await invoices.account_for(session, organization_id, who.account_id)
    record, content = await proforma.issue(
        session, account=account, created_by=who.account_id, invoice_ids=body.invoice_ids, offers=body.offers,
        catalogue=getattr(request.app.state, "catalogue", None), settings=invoices.settings,
        now=invoices.clock.now(), language=body.language)
    return _pdf(content, f"{record.number}.pdf")


@router.post("/prepaid/transfer-slip", response_model=TopUpSlip)
async def transfer_slip(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                        session: AsyncSession = Depends(get_session, scope="function")):
    """The organization's reference for topping up the prepaid balance by
    bank transfer (the same every time), with the QR-bill for CHF."""
    invoices = invoices_of(request)
    account = await invoices.account_for(session, organization_id, who.account_id)
    row = await request.app.state.bank_transfers.top_up_reference(session, organization_id)
    settings = invoices.settings
    svg = None
    if row.currency == "CHF":
        debtor = qrbill.debtor_of(account.organization_name, account.street, account.postal_code, account.city,
                                  account.country)
        svg = qrbill.svg(qrbill.bill(settings, reference=row.reference, amount_minor=None,
                                     language=account.language, debtor=debtor, message="Prepaid top-up"))
    iban = settings.seller_qr_iban_chf if row.currency == "CHF" else settings.seller_iban_eur
    return TopUpSlip(reference=row.reference, currency=row.currency, iban=iban, creditor_name=settings.seller_name,
                     qr_bill_svg=svg)
