"""Subscriptions: products that renew, keyed by product id (BIL-04, BIL-05).
Opened from ProductProvisioned, closed by ProductDeprovisioned; customers
switch auto-renew and the billing period. Records events; never commits."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import insert_if_absent
from manager_shared.events import (ProductDeprovisioned, ProductProvisioned, SubscriptionClosed,
                                   SubscriptionOpened, SubscriptionPeriodChanged, SubscriptionSettingsChanged)
from manager_shared.outbox import Outbox

from ..service import BillingService
from . import repository as repo
from .errors import PeriodNotAvailable, PriceNotFound, SubscriptionNotFound
from .models import Subscription
from .periods import PERIODS, Terms, add_months, change_period, months_of
from .service import Catalogue, Price


def terms_of(sub: Subscription) -> Terms:
    return Terms(period=sub.period, term_start=sub.term_start, term_end=sub.term_end, next_period=sub.next_period,
                 anchor_day=sub.anchor_day)


@dataclass
class RenewalItem:
    """One row of the renewals list: the subscription and the price of its next term."""

    subscription: Subscription
    next_term_start: dt.date
    next_term_end: dt.date
    renewal_period: str
    price: Price | None
    currency: str
    invoice_id: uuid.UUID | None = None  # the renewal invoice, once issued (to pay it in a selection)


@dataclass
class Subscriptions:
    outbox: Outbox
    clock: Clock
    catalogue: Catalogue
    billing: BillingService
    renewals_horizon_months: int = 2

    def today(self) -> dt.date:
        return self.clock.now().date()

    def horizon(self) -> dt.date:
        """BIL-04's default list: terms ending within the next two months."""
        return add_months(self.today(), self.renewals_horizon_months)

    async def open_paid(self, session: AsyncSession, *, product_id: uuid.UUID, organization_id: uuid.UUID,
                        kind: str, name: str, offer_code: str, period: str, quantity: int, term_start: dt.date,
                        auto_renew: bool = False) -> Subscription:
        """For a product bought through an order (the checkout of the next
        issue): its first term [term_start, +period) is the one just paid.
        Idempotent by product id; the product's later ProductProvisioned then
        finds it and changes nothing."""
        existing = await repo.subscription(session, product_id)
        if existing is not None:
            return existing
        offer = await self.catalogue.offer(session, offer_code)
        now = self.clock.now()
        values = dict(product_id=product_id, organization_id=organization_id, product_kind=kind, product_name=name,
                      offer_code=offer.code, status="active", quantity=quantity, period=period, next_period=None,
                      term_start=term_start, term_end=add_months(term_start, months_of(period)),
                      anchor_day=term_start.day, auto_renew=auto_renew, renewal_warranty=False, created_at=now,
                      updated_at=now)
        return await self._insert(session, values)

    async def _insert(self, session: AsyncSession, values: dict) -> Subscription:
        """Insert once (a concurrent opener of the same product wins quietly)
        and announce a billed subscription."""
        if not await insert_if_absent(session, Subscription.__table__, values):
            return await repo.subscription(session, values["product_id"])
        return await self._announce(session, await repo.subscription(session, values["product_id"]))

    async def _announce(self, session: AsyncSession, sub: Subscription) -> Subscription:
        if sub.status == "active":  # a product that is not billed has no subscription to follow
            await self.outbox.record(session, SubscriptionOpened(
                product_id=sub.product_id, organization_id=sub.organization_id, offer_code=sub.offer_code,
                period=sub.period, quantity=sub.quantity, term_start=sub.term_start, term_end=sub.term_end))
        return sub

    async def open_from(self, session: AsyncSession, event: ProductProvisioned) -> Subscription:
        """A product that did not come through an order starts with the term
        its provisioning covered: one period of its offer from today. A kind
        the catalogue does not bill is recorded as not billable, not refused.
        Re-delivery, or a product already known, changes nothing; nor does a
        late copy of the event after the product was deprovisioned (a product
        id is chosen once: a closed subscription stays closed)."""
        existing = await repo.subscription(session, event.product_id)
        if existing is not None:
            return existing
        offer = await self.catalogue.billing_offer(session, event.kind, event.name)
        period = await self._default_period(session, offer.code) if offer else "yearly"
        start, now = self.today(), self.clock.now()
        values = dict(product_id=event.product_id, organization_id=event.organization_id, product_kind=event.kind,
                      product_name=event.name, offer_code=offer.code if offer else None,
                      status="active" if offer else "not_billable", quantity=1, period=period, next_period=None,
                      term_start=start, term_end=add_months(start, months_of(period)), anchor_day=start.day,
                      auto_renew=False, renewal_warranty=False, created_at=now, updated_at=now)
        return await self._insert(session, values)

    async def _default_period(self, session: AsyncSession, offer_code: str) -> str:
        """Yearly when the offer has it (domains have only that), else the
        longest period it is priced at for one unit."""
        [(_, prices, _)] = await self.catalogue.with_prices(session, [await self.catalogue.offer(session, offer_code)])
        available = {p.period for p in prices if p.min_quantity <= 1}
        for period in reversed(PERIODS):
            if period in available:
                return period
        return "yearly"

    async def close_from(self, session: AsyncSession, event: ProductDeprovisioned) -> None:
        """The product is gone: its subscription is no longer renewed."""
        sub = await repo.subscription(session, event.product_id, lock=True)
        if sub is None or sub.status == "closed":
            return
        billed = sub.status == "active"
        sub.status, sub.updated_at = "closed", self.clock.now()
        if billed:
            await self.outbox.record(session, SubscriptionClosed(product_id=sub.product_id,
                                                                 organization_id=sub.organization_id))

    async def renewals(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, *,
                       show_all: bool = False) -> list[RenewalItem]:
        """BIL-04: what renews in the next months (two by default), with the
        price of the next term as the catalogue has it now."""
        account = await self.billing.account_for(session, organization_id, account_id)
        horizon = None if show_all else self.horizon()
        items = []
        subs = await repo.subscriptions_of(session, organization_id, horizon)
        invoiced = await repo.renewal_invoices(session, subs)
        prices: dict[tuple, Price | None] = {}  # many products share an offer: one lookup each
        for sub in subs:
            terms = terms_of(sub)
            start, end = terms.next_term()
            key = (sub.offer_code, terms.renewal_period, sub.quantity)
            if key not in prices:
                prices[key] = await self._price_or_none(session, account.currency, *key)
            items.append(RenewalItem(sub, start, end, terms.renewal_period, prices[key], account.currency,
                                     invoiced.get(sub.product_id)))
        return items

    async def _price_or_none(self, session: AsyncSession, currency: str, offer_code: str, period: str,
                             quantity: int) -> Price | None:
        try:
            return await self.catalogue.price(session, offer_code, currency, period, quantity=quantity)
        except (PriceNotFound, PeriodNotAvailable):
            return None  # shown without a price rather than hiding the renewal

    async def owned(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID,
                    product_id: uuid.UUID, *, lock: bool = False) -> tuple[Subscription, str]:
        """The organization's billed subscription and its currency, for
        holders of the accounting right; 404 for anything else."""
        account = await self.billing.account_for(session, organization_id, account_id)
        sub = await repo.subscription(session, product_id, lock=lock)
        if sub is None or sub.organization_id != organization_id or sub.status != "active":
            raise SubscriptionNotFound()
        return sub, account.currency

    async def update(self, session: AsyncSession, organization_id: uuid.UUID, product_id: uuid.UUID,
                     account_id: uuid.UUID, *, auto_renew: bool | None = None, renewal_warranty: bool | None = None,
                     period: str | None = None) -> Subscription:
        """BIL-04 auto-renew in one switch, DOM-06 warranty, BIL-05 period."""
        sub, currency = await self.owned(session, organization_id, account_id, product_id, lock=True)
        if period is not None:
            await self._change_period(session, sub, currency, period, account_id)
        settings = (sub.auto_renew, sub.renewal_warranty)
        if auto_renew is not None:
            sub.auto_renew = auto_renew
        if renewal_warranty is not None:
            sub.renewal_warranty = renewal_warranty
        if (sub.auto_renew, sub.renewal_warranty) != settings:
            await self.outbox.record(session, SubscriptionSettingsChanged(
                product_id=sub.product_id, organization_id=organization_id, auto_renew=sub.auto_renew,
                renewal_warranty=sub.renewal_warranty, changed_by=account_id))
        sub.updated_at = self.clock.now()
        return sub

    async def _change_period(self, session: AsyncSession, sub: Subscription, currency: str, period: str,
                             account_id: uuid.UUID) -> None:
        months_of(period)
        try:
            price = await self.catalogue.price(session, sub.offer_code, currency, period, quantity=sub.quantity)
        except PriceNotFound:  # the offer is not sold at that period at all
            raise PeriodNotAvailable(period=period) from None
        change = change_period(terms_of(sub), period, quantity=sub.quantity, min_quantity=price.min_quantity)
        if change.terms.next_period == sub.next_period:
            return
        sub.next_period = change.terms.next_period
        await self.outbox.record(session, SubscriptionPeriodChanged(
            product_id=sub.product_id, organization_id=sub.organization_id, period=sub.period,
            next_period=sub.next_period, effective_from=change.effective_from, changed_by=account_id))
