"""Top-ups of the prepaid balance by card (BIL-02). Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.events import PaymentActionRequired, PaymentFailed, PrepaidTopUpCredited
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from ..payments.late_charge import refund_to_card
from ..repository import account_closed
from ..payments.provider import ChargeStatus, PaymentProvider
from . import ledger, limits
from . import repository as repo
from .models import TopUp
from .service import Prepaid

FAILURE_REASONS = {ChargeStatus.DECLINED: "declined", ChargeStatus.INSUFFICIENT_FUNDS: "insufficient_funds"}


@dataclass
class TopUps:
    prepaid: Prepaid
    provider: PaymentProvider
    outbox: Outbox
    clock: Clock
    limits: limits.TopUpLimits
    pending_for: timedelta  # an unfinished 3-D Secure attempt expires after this

    async def start(self, session: AsyncSession, organization_id: uuid.UUID, amount_minor: int, currency: str,
                    card_token: str, reference: str) -> tuple[TopUp, str | None]:
        """Check the limits, charge the card, credit at once or wait for 3-D Secure."""
        _, account_currency = await ledger.balance(session, organization_id)
        limits.check_amount(self.limits, amount_minor, currency, account_currency)
        await repo.lock_billing_account(session, organization_id)
        now = self.clock.now()
        top_up = TopUp(organization_id=organization_id, amount_minor=amount_minor, currency=currency,
                       status="pending", provider=self.provider.name, created_at=now,
                       expires_at=now + self.pending_for)
        # today's sum read after this write: on SQLite the write lock is held from here
        session.add(top_up)
        await session.flush()
        already = await repo.top_ups_since(session, organization_id, now - timedelta(days=1))
        limits.check_daily(self.limits, already - amount_minor, amount_minor, currency)
        result = await self.provider.charge(amount_minor=amount_minor, currency=currency, token=card_token,
                                            reference=reference)
        top_up.provider_payment_id = result.provider_payment_id
        if result.status == ChargeStatus.SUCCEEDED:
            await self._credit(session, top_up)
        elif result.status == ChargeStatus.REQUIRES_ACTION:
            await self.outbox.record(session, PaymentActionRequired(
                organization_id=organization_id, payment_id=top_up.id, purpose="top_up", amount_minor=amount_minor,
                currency=currency, expires_at=top_up.expires_at))
        else:
            await self._fail(session, top_up, FAILURE_REASONS.get(result.status, "declined"))
        return top_up, result.action_url

    async def completed(self, session: AsyncSession, payment_id: str, succeeded: bool) -> bool:
        """The provider's word on a 3-D Secure top-up (webhook). A success
        after expiry is still credited: the card was charged. False if no
        top-up has this payment."""
        top_up = await repo.top_up_by_payment(session, self.provider.name, payment_id)
        if top_up is None:
            return False
        if succeeded and top_up.status in ("pending", "expired") and await account_closed(session,
                                                                                  top_up.organization_id):
            await self._refund_late(session, top_up)
        elif succeeded and top_up.status in ("pending", "expired"):
            await self._credit(session, top_up)
        elif not succeeded and top_up.status == "pending":
            await self._fail(session, top_up, "authentication_failed")
        return True  # anything else: a re-delivered fact, already applied

    async def expire(self, session: AsyncSession) -> int:
        """Pending top-ups past their time: abandoned, nothing was credited."""
        expired = await repo.expired_top_ups(session, self.clock.now())
        for top_up in expired:
            await self._fail(session, top_up, "expired", status="expired")
        return len(expired)

    async def _credit(self, session: AsyncSession, top_up: TopUp) -> None:
        top_up.status, top_up.completed_at = "succeeded", self.clock.now()
        entry = await self.prepaid.credit(session, top_up.organization_id, top_up.amount_minor, top_up.currency,
                                          kind="top_up", cause="card top-up", reference=f"top_up:{top_up.id}")
        await self.outbox.record(session, PrepaidTopUpCredited(
            organization_id=top_up.organization_id, top_up_id=top_up.id, amount_minor=top_up.amount_minor,
            currency=top_up.currency, balance_minor=entry.balance_after_minor))
        BUSINESS_EVENTS.labels("billing", "prepaid_top_up", "credited").inc()

    async def _refund_late(self, session: AsyncSession, top_up: TopUp) -> None:
        """Confirmed after the organization was deleted: back to the card (payments.late_charge)."""
        await refund_to_card(self.provider, provider_payment_id=top_up.provider_payment_id,
                             amount_minor=top_up.amount_minor, currency=top_up.currency,
                             reference=f"top_up:{top_up.id}")
        top_up.status, top_up.failure_reason = "refunded", "organization_deleted"
        top_up.completed_at = self.clock.now()

    async def _fail(self, session: AsyncSession, top_up: TopUp, reason: str, *, status: str = "failed") -> None:
        top_up.status, top_up.failure_reason, top_up.completed_at = status, reason, self.clock.now()
        await self.outbox.record(session, PaymentFailed(
            organization_id=top_up.organization_id, payment_id=top_up.id, purpose="top_up",
            amount_minor=top_up.amount_minor, currency=top_up.currency, reason=reason))
        BUSINESS_EVENTS.labels("billing", "prepaid_top_up", reason).inc()


def top_up_view(top_up: TopUp, action_url: str | None = None) -> dict:
    """The API's answer about a top-up (JSON-ready: it is stored for replays)."""
    return {"id": str(top_up.id), "status": top_up.status, "amount_minor": top_up.amount_minor,
            "currency": top_up.currency, "failure_reason": top_up.failure_reason,
            "action_url": action_url if top_up.status == "pending" else None,
            "expires_at": top_up.expires_at.isoformat() if top_up.status == "pending" else None,
            "created_at": top_up.created_at.isoformat()}
