"""An organization's billing standing (ORG-14): its unpaid invoices and its
prepaid balance, published as BillingStandingChanged when either changes.

Whoever changes a balance or an invoice's paid/open state calls
`standing_changed` in the same transaction. The standing is recomputed once,
at the end of that unit of work (manager_shared.db.before_commit): a payment
that debits the balance and pays an invoice publishes one standing, not two;
and one that equals the last published is not published again."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import before_commit, insert_if_absent
from manager_shared.events import BillingStandingChanged
from manager_shared.outbox import Outbox

from . import ledger
from .models import PublishedStanding

PUBLISHED = PublishedStanding.__table__


async def unpaid_invoices(session: AsyncSession, organization_id: uuid.UUID) -> int:
    from ..invoices.repository import unpaid_invoice_count  # part I's; late: it imports billing.models

    return await unpaid_invoice_count(session, organization_id)


async def standing_changed(session: AsyncSession, outbox: Outbox, organization_id: uuid.UUID) -> None:
    """The organization's standing may have changed: recompute it when the
    unit of work ends (once, however many steps called this)."""
    async def recompute(s: AsyncSession) -> None:
        await publish_standing(s, outbox, organization_id)
    before_commit(session, ("billing_standing", organization_id), recompute)


async def publish_standing(session: AsyncSession, outbox: Outbox, organization_id: uuid.UUID) -> None:
    """Recompute the standing now; record BillingStandingChanged if it
    differs from the last one published (versions grow by one per change)."""
    balance_minor, currency = await ledger.balance(session, organization_id)
    unpaid = await unpaid_invoices(session, organization_id)
    # No row yet = the standing BillingAccountOpened implied: no invoice, zero balance.
    await insert_if_absent(session, PUBLISHED, {"organization_id": organization_id, "unpaid_invoices": 0,
                                                "prepaid_balance_minor": 0, "currency": currency, "version": 0})
    last = (await session.execute(sa.select(PUBLISHED).where(PUBLISHED.c.organization_id == organization_id)
                                  .with_for_update())).one()
    if (last.unpaid_invoices, last.prepaid_balance_minor, last.currency) == (unpaid, balance_minor, currency):
        return
    version = last.version + 1
    await session.execute(sa.update(PUBLISHED).where(PUBLISHED.c.organization_id == organization_id).values(
        unpaid_invoices=unpaid, prepaid_balance_minor=balance_minor, currency=currency, version=version))
    await outbox.record(session, BillingStandingChanged(
        organization_id=organization_id, unpaid_invoices=unpaid, prepaid_balance_minor=balance_minor,
        currency=currency, standing_version=version))
