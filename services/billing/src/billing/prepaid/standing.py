"""An organization's billing standing (ORG-14): its unpaid invoices and its
prepaid balance, published as BillingStandingChanged when either changes.

Whoever changes a balance or an invoice's paid/open state calls
`standing_changed` in the same transaction. The standing is recomputed once,
at the end of that unit of work (manager_shared.db.before_commit): a payment
that debits the balance and pays an invoice publishes one standing, not two;
and one that equals the last published is not published again."""
from __future__ import annotations

import functools
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import before_commit, insert_if_absent
from manager_shared.events import BillingStandingChanged
from manager_shared.outbox import Outbox

from . import ledger
from ..models import BillingAccount
from .models import PublishedStanding

PUBLISHED = PublishedStanding.__table__


async def standing_changed(session: AsyncSession, outbox: Outbox, organization_id: uuid.UUID) -> None:
    """The organization's standing may have changed: recompute it when the
    unit of work ends (once, however many steps called this)."""
    async def recompute(s: AsyncSession) -> None:
        await publish_standing(s, outbox, organization_id)
    before_commit(session, ("billing_standing", organization_id), recompute)


async def publish_standing(session: AsyncSession, outbox: Outbox, organization_id: uuid.UUID) -> None:
    """Recompute the standing now; record BillingStandingChanged if it
    differs from the last one published (versions grow by one per change)."""
    await session.flush()  # pending ORM rows (a payment attempt holding money) count; Core statements don't autoflush
    # The common case in one statement: the row exists and the standing changed.
    changed = (await session.execute(_changed_update(), {"org": organization_id})).first()
    if changed is not None:
        await outbox.record(session, BillingStandingChanged(
            organization_id=organization_id, unpaid_invoices=changed.unpaid_invoices,
            prepaid_balance_minor=changed.prepaid_balance_minor, currency=changed.currency,
            standing_version=changed.version))
        return
    # Unchanged, or no row yet: read, and write only what is missing.
    row = await _standing_now(session, organization_id)
    if row is None:
        # No row yet = the standing BillingAccountOpened implied: no invoice, zero balance.
        await insert_if_absent(session, PUBLISHED, {"organization_id": organization_id, "unpaid_invoices": 0,
                                                    "prepaid_balance_minor": 0, "currency": "CHF", "version": 0})
        row = await _standing_now(session, organization_id)
    balance_minor, currency = int(row.balance_minor or 0), row.prepaid_currency or row.account_currency or "CHF"
    # (a version-0 row is the implied zero standing, in whatever currency)
    if (row.unpaid_invoices, row.prepaid_balance_minor) == (row.unpaid, balance_minor) \
            and (row.currency == currency or row.version == 0):
        return
    version = row.version + 1
    await session.execute(sa.update(PUBLISHED).where(PUBLISHED.c.organization_id == organization_id).values(
        unpaid_invoices=row.unpaid, prepaid_balance_minor=balance_minor, currency=currency, version=version))
    await outbox.record(session, BillingStandingChanged(
        organization_id=organization_id, unpaid_invoices=row.unpaid, prepaid_balance_minor=balance_minor,
        currency=currency, standing_version=version))


async def _standing_now(session: AsyncSession, organization_id: uuid.UUID):
    """The last published standing, row-locked, beside today's facts: one
    round trip on the payment path (it runs in every money movement)."""
    return (await session.execute(_standing_query(), {"organization_id": organization_id})).first()


def _facts(org: sa.BindParameter) -> tuple[sa.ColumnElement, ...]:
    """Today's facts as scalar subqueries: open invoices, prepaid balance and
    its currency, the billing account's currency. The balance counts what a
    payment waiting for 3-D Secure holds: that money is still the
    organization's until the payment completes, and an organization holding
    it must not be deleted (its release would land on a closed account)."""
    from ..invoices.models import Invoice  # part I's; late: it imports billing.models
    from ..payments.models import PaymentAttempt

    account = ledger.ACCOUNT
    held = sa.select(sa.func.coalesce(sa.func.sum(PaymentAttempt.prepaid_minor), 0)).where(
        PaymentAttempt.organization_id == org, PaymentAttempt.status == "pending").scalar_subquery()
    balance = sa.select(account.c.balance_minor + held).where(account.c.organization_id == org).scalar_subquery()
    return (sa.select(sa.func.count()).select_from(Invoice).where(
                Invoice.organization_id == org, Invoice.kind == "invoice", Invoice.status == "open").scalar_subquery(),
            balance,
            sa.select(account.c.currency).where(account.c.organization_id == org).scalar_subquery(),
            sa.select(BillingAccount.currency).where(BillingAccount.organization_id == org).scalar_subquery())


@functools.cache  # built once, on first use: invoices' models import billing.models
def _standing_query() -> sa.Select:
    org = sa.bindparam("organization_id", type_=sa.Uuid)
    unpaid, balance, prepaid_currency, account_currency = _facts(org)
    return (sa.select(PUBLISHED.c.unpaid_invoices, PUBLISHED.c.prepaid_balance_minor, PUBLISHED.c.currency,
                      PUBLISHED.c.version, unpaid.label("unpaid"), balance.label("balance_minor"),
                      prepaid_currency.label("prepaid_currency"), account_currency.label("account_currency"))
            .where(PUBLISHED.c.organization_id == org).with_for_update(of=PUBLISHED))


@functools.cache
def _changed_update() -> sa.Update:
    """The published row brought up to today's facts (version + 1), only if
    they differ by publish_standing's rule; RETURNING the new standing, or
    nothing when unchanged or when there is no row yet."""
    org = sa.bindparam("org", type_=sa.Uuid)  # not a column's name: update() reserves those
    unpaid, balance, prepaid_currency, account_currency = _facts(org)
    facts = sa.select(unpaid.label("unpaid"), sa.func.coalesce(balance, 0).label("balance"),
                      sa.func.coalesce(prepaid_currency, account_currency, "CHF").label("currency")).subquery("facts")
    p = PUBLISHED.c
    return (sa.update(PUBLISHED)
            .where(p.organization_id == org,
                   sa.or_(p.unpaid_invoices != facts.c.unpaid, p.prepaid_balance_minor != facts.c.balance,
                          sa.and_(p.currency != facts.c.currency, p.version != 0)))
            .values(unpaid_invoices=facts.c.unpaid, prepaid_balance_minor=facts.c.balance,
                    currency=facts.c.currency, version=p.version + 1)
            .returning(p.unpaid_invoices, p.prepaid_balance_minor, p.currency, p.version))
