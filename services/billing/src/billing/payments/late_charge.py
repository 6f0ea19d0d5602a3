"""A card charge that succeeds when what it was for is gone: a 3-D Secure
top-up or payment confirmed after it expired, or after the invoices it was
to pay were settled otherwise. The card was charged, so the money is never
dropped: it goes on the prepaid balance; but if the organization has been
deleted meanwhile (its billing account closed), a balance nobody can use or
withdraw would keep it, so the charge is refunded to the card instead."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.metrics import BUSINESS_EVENTS

from ..repository import account_closed
from .provider import PaymentProvider


async def refund_to_card(provider: PaymentProvider, *, provider_payment_id: str, amount_minor: int, currency: str,
                         reference: str) -> None:
    # The provider's idempotency key is the reference: a webhook delivered twice refunds once.
    await provider.refund(provider_payment_id=provider_payment_id, amount_minor=amount_minor, currency=currency,
                          reference=f"refund:{reference}")
    BUSINESS_EVENTS.labels("billing", "late_card_charge", "refunded").inc()


async def keep_or_refund(session: AsyncSession, prepaid, provider: PaymentProvider, *, organization_id: uuid.UUID,
                         provider_payment_id: str | None, amount_minor: int, currency: str, cause: str,
                         reference: str) -> str:
    """'credited' (on the balance) or 'refunded' (sent back to the card)."""
    if provider_payment_id is not None and await account_closed(session, organization_id):
        await refund_to_card(provider, provider_payment_id=provider_payment_id, amount_minor=amount_minor,
                             currency=currency, reference=reference)
        return "refunded"
    await prepaid.credit(session, organization_id, amount_minor, currency, kind="top_up", cause=cause,
                         reference=reference)
    return "credited"
