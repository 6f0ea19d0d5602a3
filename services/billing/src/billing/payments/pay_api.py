"""Paying a selection of invoices (BIL-03): thin router, rules in selection.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.errors import NotFound
from manager_shared.runtime import current_principal

from ..db import get_session
from ..prepaid.api import IDEMPOTENCY, allowed
from .models import PaymentAttempt
from .provider import PROVIDER_UNAVAILABLE
from .schemas import PaymentIn, PaymentRead
from .selection import payment_view

router = APIRouter(prefix="/v1/organizations/{organization_id}/payments", tags=["payments"])
STATUS = {"succeeded": 201, "pending": 202, "failed": 402}


class PaymentNotFound(NotFound):
    code, message = "payment_not_found", "Payment not found."


@router.post("", response_model=PaymentRead, status_code=201,
             responses={202: {"description": "3-D Secure: complete it at action_url; nothing is paid until then"},
                        402: {"description": "The card was declined: nothing was paid, the balance is untouched"},
                        **PROVIDER_UNAVAILABLE})
async def pay(organization_id: uuid.UUID, body: PaymentIn, request: Request,
              who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function"),
              _key: str | None = IDEMPOTENCY):
    """Pay open invoices and upcoming renewals together: the prepaid balance
    (use_prepaid) covers the whole or a part, the card the rest; all of them
    are paid, or none. A renewal's invoice is issued first (it stays open if
    the payment fails, as the scheduler would have issued it anyway)."""
    async def work(reference: str) -> tuple[int, dict]:
        await allowed(request, session, organization_id, who)
        renewals = [await request.app.state.renewals.invoice_renewal_now(session, organization_id, product_id)
                    for product_id in dict.fromkeys(body.renewal_product_ids)]
        attempt, action_url = await request.app.state.payments.pay(
            session, organization_id, list(dict.fromkeys([*body.invoice_ids, *(i.id for i in renewals)])),
            use_prepaid=body.use_prepaid, card_token=body.card_token, reference=reference)
        return STATUS[attempt.status], payment_view(attempt, action_url)

    return await request.app.state.idempotency.run(request, session, who.account_id, organization_id,
                                                   body.model_dump(mode="json"), work)


@router.get("/{payment_id}", response_model=PaymentRead)
async def payment(organization_id: uuid.UUID, payment_id: uuid.UUID, request: Request,
                  who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """One payment's state (e.g. after 3-D Secure)."""
    await allowed(request, session, organization_id, who)
    row = await session.get(PaymentAttempt, payment_id)
    if row is None or row.organization_id != organization_id:
        raise PaymentNotFound()
    return payment_view(row)
