"""Queries of the catalogue and the subscriptions."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import CatalogueOffer, CataloguePrice, RenewalClaim, Subscription


async def offer(session: AsyncSession, code: str) -> CatalogueOffer | None:
    return await session.get(CatalogueOffer, code)


async def offers(session: AsyncSession, kind: str | None = None) -> Sequence[CatalogueOffer]:
    query = select(CatalogueOffer).order_by(CatalogueOffer.code)
    if kind is not None:
        query = query.where(CatalogueOffer.kind == kind)
    return (await session.execute(query)).scalars().all()


async def price_at(session: AsyncSession, offer_code: str, currency: str, period: str,
                   at: dt.datetime) -> CataloguePrice | None:
    """The version in force at `at`: the latest valid_from not after it."""
    return (await session.execute(
        select(CataloguePrice).where(CataloguePrice.offer_code == offer_code, CataloguePrice.currency == currency,
                                     CataloguePrice.period == period, CataloguePrice.valid_from <= at)
        .order_by(CataloguePrice.valid_from.desc()).limit(1))).scalar_one_or_none()


async def prices_of(session: AsyncSession, codes: Sequence[str]) -> Sequence[CataloguePrice]:
    """Every version of these offers' prices, oldest first."""
    if not codes:
        return []
    return (await session.execute(select(CataloguePrice).where(CataloguePrice.offer_code.in_(codes))
                                  .order_by(CataloguePrice.valid_from))).scalars().all()


async def subscription(session: AsyncSession, product_id: uuid.UUID, *, lock: bool = False) -> Subscription | None:
    """`lock`: the row stays this transaction's until it ends. PostgreSQL
    row-locks it (FOR UPDATE); SQLite has no row locks and begins its write
    transaction at the first write, so a no-op UPDATE first takes the one
    write lock before the read (otherwise two requests could both read the
    old state and both act on it)."""
    query = select(Subscription).where(Subscription.product_id == product_id)
    if lock and session.get_bind().dialect.name == "sqlite":
        await session.execute(sa.update(Subscription).where(Subscription.product_id == product_id)
                              .values(product_id=Subscription.product_id))
    elif lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=lock))).scalar_one_or_none()


async def subscriptions_of(session: AsyncSession, organization_id: uuid.UUID,
                           ends_before: dt.date | None) -> Sequence[Subscription]:
    """The organization's billed subscriptions, soonest term end first."""
    query = select(Subscription).where(Subscription.organization_id == organization_id,
                                       Subscription.status == "active")
    if ends_before is not None:
        query = query.where(Subscription.term_end <= ends_before)
    return (await session.execute(query.order_by(Subscription.term_end, Subscription.product_id))).scalars().all()


def _unclaimed(ends_before: dt.date):
    claimed = sa.exists().where(RenewalClaim.product_id == Subscription.product_id,
                                RenewalClaim.term_end == Subscription.term_end)
    return sa.and_(Subscription.status == "active", Subscription.term_end <= ends_before, ~claimed)


async def due_for_renewal(session: AsyncSession, ends_before: dt.date, limit: int) -> list[uuid.UUID]:
    """Active subscriptions whose term ends by `ends_before` and whose renewal
    was not invoiced yet (no claim for that term)."""
    return list((await session.execute(
        select(Subscription.product_id).where(_unclaimed(ends_before))
        .order_by(Subscription.term_end, Subscription.product_id).limit(limit))).scalars().all())


async def lock_due(session: AsyncSession, product_id: uuid.UUID, ends_before: dt.date,
                   skip_locked: bool) -> Subscription | None:
    """The subscription, locked, if it is still due and unclaimed; on
    PostgreSQL a row another replica holds is skipped rather than waited for."""
    query = select(Subscription).where(Subscription.product_id == product_id, _unclaimed(ends_before))
    query = query.with_for_update(skip_locked=True) if skip_locked else query
    return (await session.execute(query)).scalar_one_or_none()


async def claim(session: AsyncSession, product_id: uuid.UUID, term_end: dt.date) -> RenewalClaim | None:
    return await session.get(RenewalClaim, (product_id, term_end))


async def renewal_invoices(session: AsyncSession, subs: Sequence[Subscription]) -> dict[uuid.UUID, uuid.UUID]:
    """product id → the invoice already issued for the renewal of its current term."""
    if not subs:
        return {}
    ends = {sub.product_id: sub.term_end for sub in subs}
    rows = (await session.execute(select(RenewalClaim.product_id, RenewalClaim.term_end, RenewalClaim.invoice_id)
                                  .where(RenewalClaim.product_id.in_(list(ends)),
                                         RenewalClaim.invoice_id.is_not(None)))).all()
    return {row.product_id: row.invoice_id for row in rows if ends[row.product_id] == row.term_end}


CLAIMS_KEPT = dt.timedelta(days=90)


def finished_claims(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Renewal claims no longer needed (retention, X-06): older than 90 days
    and of a term that is over, because the subscription has moved on to a
    later term or was closed. A claim of a subscription's current term stays,
    however old it is: it keeps the scheduler from invoicing that term twice."""
    claim, sub = RenewalClaim.__table__, Subscription.__table__
    current = sa.exists().where(sub.c.product_id == claim.c.product_id, sub.c.term_end == claim.c.term_end,
                                sub.c.status == "active")
    return sa.and_(claim.c.created_at < now - CLAIMS_KEPT, sa.not_(current))
