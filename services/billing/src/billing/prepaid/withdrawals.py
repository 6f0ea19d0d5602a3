"""Withdrawal of the prepaid balance (BIL-10): debited at once, paid out to
the cards it came from (refunds, oldest top-ups first) or to an IBAN, and
pending until the provider confirms; a failed payout is credited back.
Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.events import PrepaidWithdrawalCompleted, PrepaidWithdrawalFailed
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from ..payments.provider import PaymentProvider
from . import ledger
from . import repository as repo
from .errors import AccountHolderRequired, AmountNotPositive, CurrencyMismatch, InvalidIban, NotRefundableToCards
from .models import TopUp, Withdrawal, WithdrawalPart
from .service import Prepaid


def valid_iban(value: str) -> str:
    """The IBAN in its compact form, checked (country, length, check digits) by schwifty."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return IBAN(value).compact
    except (SchwiftyException, ValueError):
        raise InvalidIban() from None


def allocate(top_ups: list[TopUp], amount_minor: int) -> list[tuple[TopUp, int]]:
    """Oldest top-ups first, each up to what it has left to send back."""
    parts, left = [], amount_minor
    for top_up in top_ups:
        if left == 0:
            break
        take = min(top_up.amount_minor - top_up.refunded_minor, left)
        if take > 0:
            parts.append((top_up, take))
            left -= take
    if left:
        raise NotRefundableToCards(refundable_minor=amount_minor - left)
    return parts


@dataclass
class Withdrawals:
    prepaid: Prepaid
    provider: PaymentProvider
    outbox: Outbox
    clock: Clock

    async def request(self, session: AsyncSession, organization_id: uuid.UUID, requested_by: uuid.UUID, *,
                      amount_minor: int, currency: str, destination: str, iban: str | None = None,
                      account_holder: str | None = None, reference: str) -> tuple[Withdrawal, list[WithdrawalPart]]:
        """`reference`: stable across retries of the request (its Idempotency-Key). The PSP's
        references are `<reference>/<part>`: a retry after a lost answer never pays out twice,
        and an abandoned request's payouts can be voided (PaymentProvider.void)."""
        if amount_minor <= 0:
            raise AmountNotPositive()
        _, held_currency = await ledger.balance(session, organization_id)
        if currency != held_currency:
            raise CurrencyMismatch(currency=held_currency)
        if destination == "iban":
            iban = valid_iban(iban or "")
            if not (account_holder or "").strip():
                raise AccountHolderRequired()
        await repo.lock_billing_account(session, organization_id)
        withdrawal = Withdrawal(organization_id=organization_id, amount_minor=amount_minor, currency=currency,
                                destination=destination, iban=iban if destination == "iban" else None,
                                account_holder=(account_holder or "").strip() or None, status="pending",
                                requested_by=requested_by, created_at=self.clock.now())
        session.add(withdrawal)
        # debited first: never more than the balance (409), whatever the payout does later
        await self.prepaid.debit(session, organization_id, amount_minor, currency, kind="withdrawal",
                                 cause=f"withdrawal to {destination}", reference=f"withdrawal:{withdrawal.id}")
        if destination == "iban":
            parts = [await self._payout(session, withdrawal, f"{reference}/iban")]
        else:
            top_ups = await repo.refundable_top_ups(session, organization_id, currency)
            parts = [await self._refund(session, withdrawal, top_up, amount, f"{reference}/{top_up.id}")
                     for top_up, amount in allocate(top_ups, amount_minor)]
        BUSINESS_EVENTS.labels("billing", "prepaid_withdrawal", "requested").inc()
        return withdrawal, parts

    async def _refund(self, session: AsyncSession, withdrawal: Withdrawal, top_up: TopUp, amount_minor: int,
                      reference: str) -> WithdrawalPart:
        part = WithdrawalPart(withdrawal_id=withdrawal.id, top_up_id=top_up.id, amount_minor=amount_minor,
                              status="pending")
        top_up.refunded_minor += amount_minor
        result = await self.provider.refund(provider_payment_id=top_up.provider_payment_id or "",
                                            amount_minor=amount_minor, currency=withdrawal.currency,
                                            reference=reference)
        part.provider_ref = result.provider_ref
        session.add(part)
        return part

    async def _payout(self, session: AsyncSession, withdrawal: Withdrawal, reference: str) -> WithdrawalPart:
        part = WithdrawalPart(withdrawal_id=withdrawal.id, amount_minor=withdrawal.amount_minor, status="pending")
        result = await self.provider.payout(iban=withdrawal.iban or "", account_holder=withdrawal.account_holder or "",
                                            amount_minor=withdrawal.amount_minor, currency=withdrawal.currency,
                                            reference=reference)
        part.provider_ref = result.provider_ref
        session.add(part)
        return part

    async def settled(self, session: AsyncSession, provider_ref: str, succeeded: bool) -> bool:
        """The provider's word on one refund or payout (webhook). False if no
        withdrawal part has this reference; a re-delivered fact changes nothing."""
        part = await repo.part_by_ref(session, provider_ref)
        if part is None:
            return False
        if part.status != "pending":
            return True
        withdrawal = await session.get(Withdrawal, part.withdrawal_id, with_for_update=True)
        part.status = "succeeded" if succeeded else "failed"
        if not succeeded:
            await self._credit_back(session, withdrawal, part)
        await session.flush()
        await self._maybe_done(session, withdrawal)
        return True

    async def _credit_back(self, session: AsyncSession, withdrawal: Withdrawal, part: WithdrawalPart) -> None:
        if part.top_up_id is not None:  # that card can take it back again later
            top_up = await session.get(TopUp, part.top_up_id, with_for_update=True)
            top_up.refunded_minor -= part.amount_minor
        entry = await self.prepaid.credit(session, withdrawal.organization_id, part.amount_minor, withdrawal.currency,
                                          kind="adjustment", cause="withdrawal payout failed",
                                          reference=f"withdrawal:{withdrawal.id}")
        await self.outbox.record(session, PrepaidWithdrawalFailed(
            organization_id=withdrawal.organization_id, withdrawal_id=withdrawal.id,
            credited_back_minor=part.amount_minor, currency=withdrawal.currency,
            balance_minor=entry.balance_after_minor))

    async def _maybe_done(self, session: AsyncSession, withdrawal: Withdrawal) -> None:
        parts = await repo.parts_of(session, withdrawal.id)
        if any(p.status == "pending" for p in parts):
            return
        paid = sum(p.amount_minor for p in parts if p.status == "succeeded")
        withdrawal.status = ("completed" if paid == withdrawal.amount_minor else
                             "failed" if paid == 0 else "partially_failed")
        withdrawal.completed_at = self.clock.now()
        if paid:
            await self.outbox.record(session, PrepaidWithdrawalCompleted(
                organization_id=withdrawal.organization_id, withdrawal_id=withdrawal.id, amount_minor=paid,
                currency=withdrawal.currency, destination=withdrawal.destination,
                iban_last4=withdrawal.iban[-4:] if withdrawal.iban else None))
        BUSINESS_EVENTS.labels("billing", "prepaid_withdrawal", withdrawal.status).inc()


def withdrawal_view(withdrawal: Withdrawal, parts: list[WithdrawalPart]) -> dict:
    """The API's answer (JSON-ready: it is stored for replays); the IBAN masked."""
    return {"id": str(withdrawal.id), "status": withdrawal.status, "amount_minor": withdrawal.amount_minor,
            "currency": withdrawal.currency, "destination": withdrawal.destination,
            "iban_last4": withdrawal.iban[-4:] if withdrawal.iban else None,
            "parts": [{"amount_minor": p.amount_minor, "status": p.status,
                       "top_up_id": str(p.top_up_id) if p.top_up_id else None,
                       "provider_ref": p.provider_ref} for p in parts],
            "created_at": withdrawal.created_at.isoformat()}
