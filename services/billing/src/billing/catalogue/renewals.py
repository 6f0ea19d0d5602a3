"""The renewal flow (BIL-04): the renewal invoice of a subscription, paid at
once from the prepaid balance when auto-renew is on and the balance covers
it, otherwise the organization is told (RenewalDue); a paid renewal line
extends the term (applying a waiting period change, BIL-05) and publishes
SubscriptionRenewed. Records events; never commits.

Invoices and Prepaid are the other two parts of billing (contracts in their
service modules); they are given to `Renewals` by main.py's wiring.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import insert_if_absent
from manager_shared.errors import DomainError
from manager_shared.events import RenewalDue, SubscriptionRenewed

from .. import repository as billing_repo
from . import repository as repo
from .errors import SubscriptionNotFound, SubscriptionNotRenewable
from .models import RenewalClaim, Subscription
from .periods import apply_paid_term
from .subscriptions import Subscriptions, terms_of

log = logging.getLogger(__name__)


def source_ref(product_id: uuid.UUID, term_end: dt.date) -> str:
    """One renewal invoice per product and term: Invoices.issue is idempotent by it."""
    return f"renewal:{product_id}:{term_end.isoformat()}"


def renewal_of(ref: str | None) -> tuple[uuid.UUID, dt.date] | None:
    """(product id, term end) of a renewal invoice's source_ref; None for another invoice."""
    if not (ref or "").startswith("renewal:"):
        return None
    _, product, term_end = ref.split(":", 2)
    return uuid.UUID(product), dt.date.fromisoformat(term_end[:10])


def invoice_total(invoice: Any) -> int:
    return int(invoice.total_minor)


@dataclass
class Renewals:
    subscriptions: Subscriptions
    invoices: Any = None  # billing.invoices.service.Invoices
    prepaid: Any = None  # billing.prepaid.service.Prepaid

    def attach(self, invoices: Any, prepaid: Any) -> None:
        """Wire the other parts in; paid renewal lines extend their terms."""
        self.invoices, self.prepaid = invoices, prepaid
        invoices.on_paid(self.on_invoice_paid)
        invoices.on_cancelled(self.on_invoice_cancelled)

    async def issue(self, session: AsyncSession, sub: Subscription, currency: str) -> Any:
        """The invoice of the subscription's next term, at the catalogue's
        price now (a price change applies to invoices issued after it)."""
        from ..invoices.service import LineDraft

        terms = terms_of(sub)
        start, end = terms.next_term()
        price = await self.subscriptions.catalogue.price(session, sub.offer_code, currency, terms.renewal_period,
                                                         quantity=sub.quantity)
        offer = await self.subscriptions.catalogue.offer(session, sub.offer_code)
        line = LineDraft(description=f"{offer.name}: {sub.product_name}", offer_code=sub.offer_code,
                         product_id=sub.product_id, period_start=start, period_end=end, quantity=sub.quantity,
                         unit_price_minor=price.unit_price_minor, vat_category=price.vat_category)
        return await self.invoices.issue(session, organization_id=sub.organization_id, currency=currency,
                                         lines=[line], source_ref=source_ref(sub.product_id, sub.term_end))

    async def renew(self, session: AsyncSession, sub: Subscription) -> str | None:
        """Invoice one due subscription (the caller holds its row): claim the
        term first, so a second replica skips it; then pay from the prepaid
        balance or tell the organization. Returns the outcome, or None when
        it was claimed already or cannot be invoiced yet."""
        account = await billing_repo.billing_account(session, sub.organization_id)
        if account is None:  # the organization's events have not arrived yet: next pass
            return None
        claim = {"product_id": sub.product_id, "term_end": sub.term_end, "outcome": "issued",
                 "created_at": self.subscriptions.clock.now()}
        if not await insert_if_absent(session, RenewalClaim.__table__, claim):
            return None
        product_id, term_end = sub.product_id, sub.term_end
        invoice = await self.issue(session, sub, account.currency)
        invoice_id = invoice.id
        outcome = await self._pay_or_tell(session, sub, invoice, account.currency, term_end)
        row = await repo.claim(session, product_id, term_end)
        row.invoice_id, row.outcome = invoice_id, outcome
        return outcome

    async def _pay_or_tell(self, session: AsyncSession, sub: Subscription, invoice: Any, currency: str,
                           term_end: dt.date) -> str:
        # read before paying: a refused payment rolls its savepoint back and
        # expires what it touched (no lazy load in async code)
        due = dict(product_id=sub.product_id, organization_id=sub.organization_id, product_name=sub.product_name,
                   offer_code=sub.offer_code, period=terms_of(sub).renewal_period, invoice_id=invoice.id,
                   invoice_number=getattr(invoice, "number", None), amount_minor=invoice_total(invoice),
                   currency=currency, due_date=term_end, auto_renew=sub.auto_renew)
        reason = "auto_renew_off"
        if due["auto_renew"]:
            if await self._pay_from_prepaid(session, due["organization_id"], invoice, due["amount_minor"], currency):
                return "paid_from_prepaid"
            reason = "prepaid_balance_too_low"
        await self.subscriptions.outbox.record(session, RenewalDue(**due, reason=reason))
        return "due"

    async def _pay_from_prepaid(self, session: AsyncSession, organization_id: uuid.UUID, invoice: Any,
                                total: int, currency: str) -> bool:
        """All or nothing, in a savepoint: a balance spent meanwhile by
        another payment leaves no half-paid renewal behind."""
        invoice_id = invoice.id
        balance, balance_currency = await self.prepaid.balance(session, organization_id)
        if balance_currency != currency or balance < total:
            return False
        try:
            async with session.begin_nested():
                if total > 0:
                    await self.prepaid.debit(session, organization_id, total, currency, kind="payment",
                                             cause="renewal", reference=f"invoice:{invoice_id}")
                await self.invoices.mark_paid(session, invoice, means="prepaid", reference=f"invoice:{invoice_id}")
        except DomainError as exc:
            if exc.code != "insufficient_prepaid_balance":
                raise
            return False
        return True

    async def invoice_renewal_now(self, session: AsyncSession, organization_id: uuid.UUID,
                                  product_id: uuid.UUID) -> Any:
        """The renewal invoice of one product now, for the pay-a-selection
        flow (BIL-03): the same invoice the scheduler would issue (same
        source_ref), and its claim, so the scheduler does not act on it."""
        sub = await repo.subscription(session, product_id, lock=True)
        if sub is None or sub.organization_id != organization_id:
            raise SubscriptionNotFound()
        account = await billing_repo.billing_account(session, organization_id)
        if sub.status != "active" or account is None:
            raise SubscriptionNotRenewable()
        await insert_if_absent(session, RenewalClaim.__table__, {
            "product_id": sub.product_id, "term_end": sub.term_end, "outcome": "invoiced_on_request",
            "created_at": self.subscriptions.clock.now()})
        invoice = await self.issue(session, sub, account.currency)
        row = await repo.claim(session, sub.product_id, sub.term_end)
        row.invoice_id = row.invoice_id or invoice.id
        return invoice

    async def on_invoice_cancelled(self, session: AsyncSession, invoice: Any) -> None:
        """Invoices' on_cancelled hook: a cancelled renewal invoice (a wrong
        price, say) must not block its term for good. Its source_ref is set
        aside, so the next `issue` makes a new invoice at today's price, and
        the claim forgets it: the renewals list offers the term again and
        paying it (`invoice_renewal_now`) issues the new invoice. The
        scheduler does not reissue by itself: an operator's cancellation is
        not undone behind their back."""
        renewal = renewal_of(invoice.source_ref)
        if renewal is None:
            return
        invoice.source_ref = f"{invoice.source_ref}:cancelled:{invoice.id}"
        claim = await repo.claim(session, *renewal)
        if claim is not None and claim.invoice_id == invoice.id:
            claim.invoice_id, claim.outcome = None, "cancelled"

    async def on_invoice_paid(self, session: AsyncSession, invoice: Any) -> None:
        """Invoices' on_paid hook: each paid line that continues a
        subscription's term extends it (idempotent: a line already applied
        no longer continues the term)."""
        for line in invoice.lines:
            if line.product_id is None or line.period_start is None or line.period_end is None:
                continue
            sub = await repo.subscription(session, line.product_id, lock=True)
            if sub is None or sub.status != "active" or sub.offer_code != line.offer_code:
                continue
            terms = apply_paid_term(terms_of(sub), line.period_start, line.period_end)
            if terms is None:
                continue
            sub.period, sub.term_start, sub.term_end, sub.next_period = (
                terms.period, terms.term_start, terms.term_end, terms.next_period)
            sub.updated_at = self.subscriptions.clock.now()
            await self.subscriptions.outbox.record(session, SubscriptionRenewed(
                product_id=sub.product_id, organization_id=sub.organization_id, offer_code=sub.offer_code,
                period=sub.period, term_start=sub.term_start, term_end=sub.term_end, invoice_id=invoice.id))
