"""BIL-02: the prepaid ledger — immutable entries, balance = sum of entries,
never negative; the read API for accounting-right holders only; ORG-14's
standing follows every balance change."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing.prepaid import ledger
from billing.prepaid.errors import AmountNotPositive, CurrencyMismatch, InsufficientPrepaidBalance
from billing.prepaid.models import LedgerEntry, PrepaidAccount
from manager_shared.events import MemberAdded
from manager_shared.testing.fixtures import feed


async def test_bil_02_credit_and_debit_write_entries_and_refuse_below_zero(world):
    org, _ = await world.organization()
    prepaid, db = world.app.state.prepaid, world.app.state.runtime.db
    async with db.transaction() as s:
        await prepaid.credit(s, org, 5_000, "CHF", kind="top_up", cause="card top-up", reference="t1")
        entry = await prepaid.debit(s, org, 1_250, "CHF", kind="payment", cause="invoice 2026-0001", reference="i1")
    assert (entry.amount_minor, entry.balance_after_minor, entry.seq) == (-1_250, 3_750, 2)
    with pytest.raises(InsufficientPrepaidBalance):
        async with db.transaction() as s:
            await prepaid.debit(s, org, 3_751, "CHF", kind="payment", cause="too much", reference="i2")
    for bad in (0, -5):
        with pytest.raises(AmountNotPositive):
            async with db.transaction() as s:
                await prepaid.credit(s, org, bad, "CHF", kind="top_up", cause="x", reference="x")
    with pytest.raises(CurrencyMismatch):  # an account with money keeps its currency
        async with db.transaction() as s:
            await prepaid.credit(s, org, 100, "EUR", kind="adjustment", cause="x", reference="x")
    async with db.transaction() as s:
        assert await prepaid.balance(s, org) == (3_750, "CHF")
        assert await ledger.ledger_sum(s, org) == 3_750
        kinds = (await s.execute(sa.select(LedgerEntry.kind).where(LedgerEntry.organization_id == org)
                                 .order_by(LedgerEntry.seq))).scalars().all()
    assert kinds == ["top_up", "payment"]


async def test_bil_02_the_database_refuses_a_negative_balance(world):
    """The CHECK constraint is there behind the conditional UPDATE."""
    org, _ = await world.organization()
    async with world.app.state.runtime.db.transaction() as s:
        await world.app.state.prepaid.credit(s, org, 100, "CHF", kind="top_up", cause="c", reference="r")
    with pytest.raises(sa.exc.IntegrityError):
        async with world.app.state.runtime.db.transaction() as s:
            await s.execute(sa.update(PrepaidAccount).where(PrepaidAccount.organization_id == org)
                            .values(balance_minor=-1))


async def test_bil_02_balance_and_entries_only_for_accounting_right(world):
    org, owner = await world.organization()
    helper, stranger = uuid.uuid4(), uuid.uuid4()
    await feed(world.app, MemberAdded(organization_id=org, account_id=helper, role="collaborator"))
    for amount in (1_000, 2_000, 3_000):
        assert (await world.top_up(org, owner, amount)).status_code == 201
    assert await world.balance(org, owner) == 6_000
    url = f"/v1/organizations/{org}/prepaid/entries"
    page = (await world.c.get(url, params={"limit": 2}, headers=world.h(owner, None))).json()
    assert [e["amount_minor"] for e in page["items"]] == [3_000, 2_000]
    assert [e["balance_after_minor"] for e in page["items"]] == [6_000, 3_000]
    rest = (await world.c.get(url, params={"limit": 2, "before_seq": page["next_before_seq"]},
                              headers=world.h(owner, None))).json()
    assert [e["amount_minor"] for e in rest["items"]] == [1_000] and rest["next_before_seq"] is None
    for who in (helper, stranger):
        for path in ("", "/entries"):
            r = await world.c.get(f"/v1/organizations/{org}/prepaid{path}", headers=world.h(who, None))
            assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")
        r = await world.top_up(org, who, 1_000)
        assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")



async def test_bil_02_the_access_guard_also_needs_the_billing_account(world):
    """The guard reads the access decision and the billing account's existence
    in one statement: a legal representative of an organization whose
    billing account is missing gets 404, not an answer about nothing."""
    from billing.models import BillingAccount

    org, owner = await world.organization()
    assert (await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner, None))).status_code == 200
    async with world.app.state.runtime.db.transaction() as s:
        await s.execute(sa.delete(BillingAccount).where(BillingAccount.organization_id == org))
    r = await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner, None))
    assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")

async def test_org_14_standing_published_on_each_balance_change_only(world):
    org, _ = await world.organization()
    prepaid, db = world.app.state.prepaid, world.app.state.runtime.db
    async with db.transaction() as s:
        await prepaid.credit(s, org, 700, "CHF", kind="top_up", cause="c", reference="r")
    async with db.transaction() as s:
        await prepaid.debit(s, org, 700, "CHF", kind="withdrawal", cause="w", reference="w")
        from billing.prepaid.standing import standing_changed
        await standing_changed(s, world.app.state.runtime.outbox, org)  # nothing changed: nothing published
    standings = await world.events("BillingStandingChanged")
    assert [(e.prepaid_balance_minor, e.unpaid_invoices, e.standing_version) for e in standings] == [
        (700, 0, 1), (0, 0, 2)]
    assert {e.key for e in standings} == {str(org)}
