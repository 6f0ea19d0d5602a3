"""Operator endpoints (access-token scope `billing`): the camt.054 import,
the queue of unmatched bank credits, cancelling and refunding invoices."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from ..db import get_session
from . import repository as repo
from .errors import CamtMalformed, OperatorOnly
from .schemas import (AssignRequest, BankImportRead, BankPaymentPage, BankPaymentRead, CancelRequest, InvoiceRead,
                      RefundRequest)

router = APIRouter(prefix="/v1", tags=["invoices (operators)"])


async def operator(who: Principal = Depends(current_principal)) -> Principal:
    if "billing" not in who.scopes:
        raise OperatorOnly()
    return who


def _prepaid(request: Request):
    return request.app.state.prepaid


@router.post("/bank/camt054", response_model=BankImportRead,
             openapi_extra={"requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}}})
async def import_camt054(request: Request, who: Principal = Depends(operator),
                         session: AsyncSession = Depends(get_session, scope="function")):
    """Import the bank's ISO 20022 camt.054 credit notification (XML body):
    credits with the reference and exact amount of an open invoice pay it,
    top-up references credit the prepaid balance, the rest waits in the
    queue. The same file twice changes nothing; a malformed file → 422
    camt_malformed and nothing applied. Larger than the service's request
    limit (BILLING_MAX_REQUEST_BODY_BYTES) → 413 payload_too_large."""
    body = await request.body()
    if not body:
        raise CamtMalformed("The file is empty.")
    result = await request.app.state.bank_transfers.import_camt054(session, body, who.account_id, _prepaid(request))
    return BankImportRead(**result.__dict__)


@router.get("/bank/unmatched", response_model=BankPaymentPage)
async def unmatched(page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=200),
                    who: Principal = Depends(operator), session: AsyncSession = Depends(get_session, scope="function")):
    """Bank credits waiting for a person (oldest first), with why they did not match."""
    items, total = await repo.unmatched_payments(session, offset=(page - 1) * page_size, limit=page_size)
    return BankPaymentPage(items=[BankPaymentRead.model_validate(i) for i in items], total=total, page=page,
                           page_size=page_size)


@router.post("/bank/payments/{payment_id}/assign", response_model=BankPaymentRead)
async def assign(payment_id: uuid.UUID, body: AssignRequest, request: Request, who: Principal = Depends(operator),
                 session: AsyncSession = Depends(get_session, scope="function")):
    """Assign a queued credit to an open invoice (same currency, exact
    amount) or to an organization's prepaid balance (same currency)."""
    payment = await request.app.state.bank_transfers.assign(
        session, payment_id, who.account_id, _prepaid(request), invoice_id=body.invoice_id,
        organization_id=body.organization_id)
    return BankPaymentRead.model_validate(payment)


@router.post("/invoices/{invoice_id}/cancel", response_model=InvoiceRead)
async def cancel(invoice_id: uuid.UUID, body: CancelRequest, request: Request, who: Principal = Depends(operator),
                 session: AsyncSession = Depends(get_session, scope="function")):
    """Cancel an open invoice; its number stays taken (the series has no gaps)."""
    return InvoiceRead.model_validate(await request.app.state.invoices.cancel(session, invoice_id, body.reason))


@router.post("/invoices/{invoice_id}/refunds", response_model=InvoiceRead, status_code=201)
async def refund(invoice_id: uuid.UUID, body: RefundRequest, request: Request, who: Principal = Depends(operator),
                 session: AsyncSession = Depends(get_session, scope="function")):
    """Refund (part of) a paid invoice to the prepaid balance: returns the credit note."""
    note = await request.app.state.invoices.refund(session, invoice_id, body.amount_minor, body.reason,
                                                   _prepaid(request))
    return InvoiceRead.model_validate(note)
