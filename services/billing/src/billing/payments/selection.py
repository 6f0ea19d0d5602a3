"""Pay a selection of invoices together (BIL-03): the prepaid balance covers
the whole or a part, the card the rest; all or nothing.

The card is charged before the prepaid part is debited: a declined card
leaves the balance untouched and no invoice paid. A card waiting for 3-D
Secure holds the prepaid part (debited, reference payment:<id>) and marks
nothing paid until the provider's webhook says succeeded; failed or
abandoned, the hold is credited back. Records events; never commits."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import write_lock
from manager_shared.errors import Conflict, DomainError
from manager_shared.events import PaymentActionRequired, PaymentCompleted, PaymentFailed
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from ..prepaid import ledger
from ..prepaid.errors import CurrencyMismatch, InsufficientPrepaidBalance, Unprocessable
from ..prepaid.service import Prepaid
from .late_charge import keep_or_refund
from .models import PaymentAttempt
from .provider import ChargeStatus, PaymentProvider

REASONS = {ChargeStatus.DECLINED: "declined", ChargeStatus.INSUFFICIENT_FUNDS: "insufficient_funds"}


class MixedCurrencies(Unprocessable):
    code, message = "mixed_currencies", "The selected invoices are in different currencies: pay them separately."


class CardTokenRequired(Unprocessable):
    code, message = "card_token_required", "The prepaid balance does not cover the selection: a card is needed."


class PaymentInProgress(Conflict):
    code, message = "payment_in_progress", "An invoice of this selection waits for another payment to complete."


@dataclass
class Payments:
    prepaid: Prepaid
    invoices: object  # billing.invoices.service.Invoices
    provider: PaymentProvider
    outbox: Outbox
    clock: Clock
    pending_for: timedelta

    async def pay(self, session: AsyncSession, organization_id: uuid.UUID, invoice_ids: list[uuid.UUID], *,
                  use_prepaid: bool, card_token: str | None, reference: str) -> tuple[PaymentAttempt, str | None]:
        await write_lock(session)  # SQLite: the checks below see no concurrent payment
        invoices = await self.invoices.payable(session, organization_id, invoice_ids)
        await self._not_held(session, organization_id, {i.id for i in invoices})
        currencies = {i.currency for i in invoices}
        if len(currencies) != 1:
            raise MixedCurrencies()
        now, currency = self.clock.now(), currencies.pop()
        total, prepaid_minor = sum(i.total_minor for i in invoices), 0
        attempt = PaymentAttempt(organization_id=organization_id, invoice_ids=json.dumps([str(i.id) for i in invoices]),
                                 currency=currency, prepaid_minor=0, card_minor=total, status="pending",
                                 created_at=now, expires_at=now + self.pending_for)
        if use_prepaid and card_token is None:
            balance, held_currency = await ledger.balance(session, organization_id)  # not locked
            if held_currency == currency and balance >= total:
                return await self._prepaid_only(session, attempt, invoices)
        if use_prepaid:
            balance, held_currency = await ledger.balance(session, organization_id, lock=True)
            prepaid_minor = min(balance, total) if held_currency == currency else 0
        attempt.prepaid_minor, attempt.card_minor = prepaid_minor, total - prepaid_minor
        try:
            return await self._settle(session, attempt, invoices, card_token, reference)
        finally:
            # Written once, in its final state (one INSERT, not an INSERT and an UPDATE per step);
            # on a refusal the unit of work rolls back anyway.
            session.add(attempt)

    async def _prepaid_only(self, session: AsyncSession, attempt: PaymentAttempt,
                            invoices: list) -> tuple[PaymentAttempt, None]:
        """The balance read (unlocked) covers the whole selection and no card
        was offered: everything is written first and the balance debited last,
        so the account's row lock (every payment of the organization queues
        on it) is held for the end of the unit of work only. If a concurrent
        payment took the money meanwhile, the conditional debit refuses and
        the answer is the one the locked path would give: a card is needed
        for the part the balance no longer covers (the unit of work rolls back)."""
        attempt.prepaid_minor, attempt.card_minor = attempt.card_minor, 0
        await self._paid(session, attempt, invoices, count=False)
        session.add(attempt)
        await session.flush()
        try:
            await self._hold(session, attempt)
        except (InsufficientPrepaidBalance, CurrencyMismatch) as refused:
            left = refused.details.get("balance_minor", 0) if isinstance(refused, InsufficientPrepaidBalance) else 0
            raise CardTokenRequired(card_minor=attempt.prepaid_minor - left, currency=attempt.currency) from None
        BUSINESS_EVENTS.labels("billing", "pay_invoices", "paid").inc()
        return attempt, None

    async def _settle(self, session: AsyncSession, attempt: PaymentAttempt, invoices: list, card_token: str | None,
                      reference: str) -> tuple[PaymentAttempt, str | None]:
        if attempt.card_minor == 0:
            await self._hold(session, attempt)
            await self._paid(session, attempt, invoices)
            return attempt, None
        if not card_token:
            raise CardTokenRequired(card_minor=attempt.card_minor, currency=attempt.currency)
        result = await self.provider.charge(amount_minor=attempt.card_minor, currency=attempt.currency,
                                            token=card_token, reference=reference)
        attempt.provider, attempt.provider_payment_id = self.provider.name, result.provider_payment_id
        if result.status in REASONS:  # nothing held yet: nothing to give back
            await self._failed(session, attempt, REASONS[result.status], invoices)
            return attempt, None
        await self._hold(session, attempt)
        if result.status == ChargeStatus.SUCCEEDED:
            await self._paid(session, attempt, invoices)
        else:
            await self.outbox.record(session, PaymentActionRequired(
                organization_id=attempt.organization_id, payment_id=attempt.id, purpose="invoices",
                amount_minor=attempt.card_minor, currency=attempt.currency, expires_at=attempt.expires_at))
        return attempt, result.action_url

    async def completed(self, session: AsyncSession, payment_id: str, succeeded: bool) -> bool:
        """The provider's word on a 3-D Secure payment (webhook); False if not one of these."""
        attempt = (await session.execute(sa.select(PaymentAttempt).where(
            PaymentAttempt.provider == self.provider.name, PaymentAttempt.provider_payment_id == payment_id)
            .with_for_update())).scalar_one_or_none()
        if attempt is None:
            return False
        if attempt.status == "pending" and not succeeded:
            await self._release(session, attempt, "authentication_failed")
        elif attempt.status == "pending":
            await self._complete(session, attempt)
        elif attempt.status == "expired" and succeeded:
            # charged after its hold was released: the money goes on the balance (or back to the card), never lost
            attempt.status = await self._keep_late_charge(session, attempt, "card payment completed after it expired")
        return True

    async def expire(self, session: AsyncSession) -> int:
        """Pending payments past their time: abandoned, their hold released."""
        query = sa.select(PaymentAttempt).where(PaymentAttempt.status == "pending",
                                                PaymentAttempt.expires_at < self.clock.now()).limit(100)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        expired = list((await session.execute(query)).scalars())
        for attempt in expired:
            await self._release(session, attempt, "expired", status="expired")
        return len(expired)

    async def _complete(self, session: AsyncSession, attempt: PaymentAttempt) -> None:
        ids = [uuid.UUID(i) for i in json.loads(attempt.invoice_ids)]
        try:  # payable() only reads and locks: a refusal leaves nothing half-done
            invoices = await self.invoices.payable(session, attempt.organization_id, ids)
        except DomainError:  # an invoice was paid or cancelled meanwhile: all of it goes on the balance
            await self._release(session, attempt, "invoice_not_payable", status="credited")
            attempt.status = await self._keep_late_charge(session, attempt, "card payment: invoices no longer payable")
            return
        await self._paid(session, attempt, invoices)

    async def _keep_late_charge(self, session: AsyncSession, attempt: PaymentAttempt, cause: str) -> str:
        """The card's part, charged when nothing can be paid with it: 'credited' or 'refunded' (late_charge)."""
        return await keep_or_refund(session, self.prepaid, self.provider, organization_id=attempt.organization_id,
                                    provider_payment_id=attempt.provider_payment_id, amount_minor=attempt.card_minor,
                                    currency=attempt.currency, cause=cause, reference=f"payment:{attempt.id}")

    async def _not_held(self, session: AsyncSession, organization_id: uuid.UUID,
                        invoice_ids: set[uuid.UUID]) -> None:
        pending = (await session.execute(sa.select(PaymentAttempt.invoice_ids).where(
            PaymentAttempt.organization_id == organization_id, PaymentAttempt.status == "pending"))).scalars()
        if any(invoice_ids & {uuid.UUID(i) for i in json.loads(ids)} for ids in pending):
            raise PaymentInProgress()

    async def _hold(self, session: AsyncSession, attempt: PaymentAttempt) -> None:
        if attempt.prepaid_minor:
            await self.prepaid.debit(session, attempt.organization_id, attempt.prepaid_minor, attempt.currency,
                                     kind="payment", cause="payment of invoices", reference=f"payment:{attempt.id}")

    async def _paid(self, session: AsyncSession, attempt: PaymentAttempt, invoices: list, *,
                    count: bool = True) -> None:
        means = "+".join(m for m, part in (("prepaid", attempt.prepaid_minor), ("card", attempt.card_minor)) if part)
        for invoice in invoices:
            await self.invoices.mark_paid(session, invoice, means=means, reference=f"payment:{attempt.id}")
        attempt.status, attempt.completed_at = "succeeded", self.clock.now()
        await self.outbox.record(session, PaymentCompleted(
            organization_id=attempt.organization_id, payment_id=attempt.id, invoice_ids=[i.id for i in invoices],
            invoice_numbers=[i.number for i in invoices if i.number], prepaid_minor=attempt.prepaid_minor,
            card_minor=attempt.card_minor, currency=attempt.currency))
        if count:
            BUSINESS_EVENTS.labels("billing", "pay_invoices", "paid").inc()

    async def _release(self, session: AsyncSession, attempt: PaymentAttempt, reason: str, *,
                       status: str = "failed") -> None:
        if attempt.prepaid_minor:
            await self.prepaid.credit(session, attempt.organization_id, attempt.prepaid_minor, attempt.currency,
                                      kind="adjustment", cause="payment not completed: hold released",
                                      reference=f"payment:{attempt.id}")
        await self._failed(session, attempt, reason, None, status=status)

    async def _failed(self, session: AsyncSession, attempt: PaymentAttempt, reason: str, invoices: list | None, *,
                      status: str = "failed") -> None:
        attempt.status, attempt.failure_reason, attempt.completed_at = status, reason, self.clock.now()
        await self.outbox.record(session, PaymentFailed(
            organization_id=attempt.organization_id, payment_id=attempt.id, purpose="invoices",
            amount_minor=attempt.prepaid_minor + attempt.card_minor, currency=attempt.currency, reason=reason,
            invoice_numbers=[i.number for i in invoices or [] if i.number]))
        BUSINESS_EVENTS.labels("billing", "pay_invoices", reason).inc()


def payment_view(attempt: PaymentAttempt, action_url: str | None = None) -> dict:
    """The API's answer (JSON-ready: it is stored for replays)."""
    return {"id": str(attempt.id), "status": attempt.status, "invoice_ids": json.loads(attempt.invoice_ids),
            "prepaid_minor": attempt.prepaid_minor, "card_minor": attempt.card_minor, "currency": attempt.currency,
            "failure_reason": attempt.failure_reason,
            "action_url": action_url if attempt.status == "pending" else None,
            "expires_at": attempt.expires_at.isoformat() if attempt.status == "pending" else None}
