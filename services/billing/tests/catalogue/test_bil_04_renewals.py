"""The renewal scheduler and the renewal flow (BIL-04) with billing's real
Invoices and Prepaid, the BIL-05 seed case end to end, and several replicas
renewing at once on one PostgreSQL database."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from billing.catalogue.models import RenewalClaim, Subscription
from billing.invoices.models import Invoice
from manager_shared.testing.tokens import TestTokens

D = dt.date


async def run(app, fn):
    async with app.state.runtime.db.transaction() as s:
        return await fn(s)


async def sub_of(app, product) -> Subscription:
    return await run(app, lambda s: s.get(Subscription, product))


async def renewal_invoices(app, product=None) -> list[Invoice]:
    query = sa.select(Invoice).where(Invoice.source_ref.like("renewal:%")).order_by(Invoice.number)
    if product is not None:
        query = query.where(Invoice.source_ref.like(f"renewal:{product}:%"))
    return list((await run(app, lambda s: s.execute(query))).scalars())


async def top_up(app, org, amount_minor: int, currency: str = "CHF") -> None:
    await run(app, lambda s: app.state.prepaid.credit(s, org, amount_minor, currency, kind="top_up", cause="test",
                                                      reference=f"test:{uuid.uuid4()}"))


async def balance(app, org) -> int:
    return (await run(app, lambda s: app.state.prepaid.balance(s, org)))[0]


async def renewals_list(app, org, owner) -> list[dict]:
    import httpx

    tokens = TestTokens().trust_in(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        r = await c.get(f"/v1/organizations/{org}/renewals", headers=tokens.headers(owner))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def switch(app, org, owner, product, **body) -> dict:
    import httpx

    tokens = TestTokens().trust_in(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        r = await c.patch(f"/v1/organizations/{org}/subscriptions/{product}", json=body,
                          headers=tokens.headers(owner))
    assert r.status_code == 200, r.text
    return r.json()


def test_bil_04_renewal_flow_is_wired_to_invoices_and_prepaid(app):
    renewals = app.state.renewals
    assert renewals.invoices is app.state.invoices and renewals.prepaid is app.state.prepaid
    assert renewals.on_invoice_paid in app.state.invoices.paid_hooks


async def test_bil_05_seed_case_end_to_end(app, new_org, provision, recorded, clock):
    """Hosting paid yearly on 1 January 2023, switched to monthly in June: the
    renewal invoice (issued 14 days before the term end) is monthly from
    1 January 2024; nothing of 2023 is billed again; once paid, the term runs
    to 1 February 2024 at the monthly period."""
    org, owner = await new_org(app)
    product = await provision(app, org, kind="hosting", name="cloud-1")
    clock.advance(days=165)
    await switch(app, org, owner, product, period="monthly")
    scheduler = app.state.renewal_scheduler
    clock.advance(days=185)  # 2023-12-17: 15 days before the term end
    assert await scheduler.run_once() == {}
    clock.advance(days=1)
    assert await scheduler.run_once() == {"due": 1}
    assert await scheduler.run_once() == {}
    [invoice] = await renewal_invoices(app, product)
    [listed] = await renewals_list(app, org, owner)
    assert (listed["invoice_id"], listed["next_term_start"]) == (str(invoice.id), "2024-01-01")
    [line] = invoice.lines
    assert (line.period_start, line.period_end, line.unit_price_minor, line.offer_code) == (
        D(2024, 1, 1), D(2024, 2, 1), 750, "hosting.standard")
    [due] = await recorded(app, "RenewalDue")
    assert (due["due_date"], due["reason"], due["amount_minor"], due["invoice_number"]) == (
        "2024-01-01", "auto_renew_off", invoice.total_minor, invoice.number)
    await run(app, lambda s: _pay(app, s, invoice.id))
    sub = await sub_of(app, product)
    assert (sub.period, sub.next_period, sub.term_start, sub.term_end) == (
        "monthly", None, D(2024, 1, 1), D(2024, 2, 1))
    [renewed] = await recorded(app, "SubscriptionRenewed")
    assert (renewed["term_end"], renewed["period"], renewed["invoice_id"]) == ("2024-02-01", "monthly",
                                                                              str(invoice.id))
    clock.advance(days=31)  # 2024-01-18: the next, monthly, renewal
    assert await scheduler.run_once() == {"due": 1}
    lines = [inv.lines[0] for inv in await renewal_invoices(app, product)]
    assert [(li.period_start, li.period_end) for li in lines] == [(D(2024, 1, 1), D(2024, 2, 1)),
                                                                  (D(2024, 2, 1), D(2024, 3, 1))]
    assert all(li.period_start >= D(2024, 1, 1) for li in lines)  # nothing of the paid 2023 again



async def test_bil_05_monthly_renewals_from_the_31st_keep_the_31st(app, new_org, provision, clock):
    """A monthly product first provisioned on 31 January: its renewals cover
    28 Feb–31 Mar and 31 Mar–30 Apr, not 28 Mar and 28 Apr."""
    org, owner = await new_org(app)
    clock.advance(days=30)  # 2023-01-31
    product = await provision(app, org, kind="hosting", name="cloud-31")
    await switch(app, org, owner, product, period="monthly")  # waits for the end of the paid year
    await run(app, lambda s: s.execute(sa.update(Subscription).where(Subscription.product_id == product).values(
        period="monthly", next_period=None, term_end=D(2023, 2, 28))))  # as if the first term were monthly
    assert (await sub_of(app, product)).anchor_day == 31
    terms = []
    for _ in range(2):
        clock.advance(days=31)
        assert await app.state.renewal_scheduler.run_once() == {"due": 1}
        invoice = (await renewal_invoices(app, product))[-1]
        terms.append((invoice.lines[0].period_start, invoice.lines[0].period_end))
        await run(app, lambda s: _pay(app, s, invoice.id))
    assert terms == [(D(2023, 2, 28), D(2023, 3, 31)), (D(2023, 3, 31), D(2023, 4, 30))]
    assert (await sub_of(app, product)).term_end == D(2023, 4, 30)

async def _pay(app, session, invoice_id):
    [invoice] = await app.state.invoices.payable(session, (await session.get(Invoice, invoice_id)).organization_id,
                                                 [invoice_id])
    await app.state.invoices.mark_paid(session, invoice, means="card", reference="test")


async def test_bil_04_auto_renew_paid_from_the_prepaid_balance(app, new_org, provision, recorded, clock):
    org, owner = await new_org(app)
    product = await provision(app, org, kind="domain", name="example.ch")
    await switch(app, org, owner, product, auto_renew=True)
    await top_up(app, org, 10_000)
    clock.advance(days=351)  # 2023-12-18
    assert await app.state.renewal_scheduler.run_once() == {"paid_from_prepaid": 1}
    [invoice] = await renewal_invoices(app, product)
    assert (invoice.status, invoice.paid_means) == ("paid", "prepaid")
    assert await balance(app, org) == 10_000 - invoice.total_minor
    assert (await sub_of(app, product)).term_end == D(2025, 1, 1)
    [renewed] = await recorded(app, "SubscriptionRenewed")
    assert renewed["term_end"] == "2025-01-01" and await recorded(app, "RenewalDue") == []
    claim = await run(app, lambda s: s.get(RenewalClaim, (product, D(2024, 1, 1))))
    assert (claim.outcome, claim.invoice_id) == ("paid_from_prepaid", invoice.id)


async def test_bil_04_balance_too_low_tells_the_organization_and_moves_no_money(app, new_org, provision, recorded,
                                                                                  clock):
    org, owner = await new_org(app)
    product = await provision(app, org, kind="domain", name="example.ch")
    await switch(app, org, owner, product, auto_renew=True)
    await top_up(app, org, 500)
    clock.advance(days=351)
    assert await app.state.renewal_scheduler.run_once() == {"due": 1}
    [invoice] = await renewal_invoices(app, product)
    assert invoice.status == "open" and await balance(app, org) == 500
    [due] = await recorded(app, "RenewalDue")
    assert (due["reason"], due["auto_renew"], due["organization_id"]) == ("prepaid_balance_too_low", True, str(org))
    assert (await sub_of(app, product)).term_end == D(2024, 1, 1)


async def test_bil_04_price_change_applies_to_renewals_invoiced_after_it(app, new_org, provision, clock):
    org, _ = await new_org(app)
    product = await provision(app, org, kind="domain", name="example.ch")
    await run(app, lambda s: app.state.catalogue.add_price(
        s, "domain.ch.renew", currency="CHF", period="yearly", unit_price_minor=1290, min_quantity=1,
        valid_from=dt.datetime(2023, 12, 1, tzinfo=dt.timezone.utc), created_by=uuid.uuid4()))
    clock.advance(days=351)
    await app.state.renewal_scheduler.run_once()
    [invoice] = await renewal_invoices(app, product)
    assert invoice.lines[0].unit_price_minor == 1290


async def test_bil_04_invoice_renewal_now_is_the_scheduler_s_invoice(app, new_org, provision, clock):
    """The pay-a-selection flow invoices a renewal at once; the scheduler
    later finds it claimed and issues nothing more."""
    org, _ = await new_org(app)
    product = await provision(app, org, kind="domain", name="example.ch")
    renewals = app.state.renewals
    first = await run(app, lambda s: renewals.invoice_renewal_now(s, org, product))
    again = await run(app, lambda s: renewals.invoice_renewal_now(s, org, product))
    assert first.id == again.id and first.lines[0].period_start == D(2024, 1, 1)
    clock.advance(days=351)
    assert await app.state.renewal_scheduler.run_once() == {}
    assert [i.id for i in await renewal_invoices(app, product)] == [first.id]
    other_org, _ = await new_org(app)
    with pytest.raises(Exception) as foreign:
        await run(app, lambda s: renewals.invoice_renewal_now(s, other_org, product))
    assert getattr(foreign.value, "code", None) == "subscription_not_found"


async def test_bil_04_several_replicas_issue_each_renewal_exactly_once(make_app, postgres, clock, new_org,
                                                                        provision, recorded):
    """Two billing processes on one PostgreSQL database run their scheduler
    passes at once: every due subscription gets exactly one invoice, one
    outcome (paid or told), and the shared prepaid balance pays as many as
    it covers, never going below zero."""
    url = postgres.create_database("billing")
    async with make_app(url, clock) as one, make_app(url, clock) as two:
        org, owner = await new_org(one)
        products = [await provision(one, org, kind="domain", name=f"shop-{i}.ch") for i in range(30)]
        for product in products:
            await switch(one, org, owner, product, auto_renew=True)
        await top_up(one, org, 12_000)
        clock.advance(days=351)
        counts = await asyncio.gather(one.state.renewal_scheduler.run_once(), two.state.renewal_scheduler.run_once())
        invoices = await renewal_invoices(one)
        assert sorted(i.source_ref for i in invoices) == sorted(f"renewal:{p}:2024-01-01" for p in products)
        total = invoices[0].total_minor
        paid = [i for i in invoices if i.status == "paid"]
        assert len(paid) == 12_000 // total and await balance(one, org) == 12_000 - len(paid) * total
        assert len(await recorded(one, "RenewalDue")) == 30 - len(paid)
        assert len(await recorded(one, "SubscriptionRenewed")) == len(paid)
        outcomes = {k: counts[0].get(k, 0) + counts[1].get(k, 0) for k in ("paid_from_prepaid", "due")}
        assert outcomes == {"paid_from_prepaid": len(paid), "due": 30 - len(paid)}
        assert counts[0].get("failed", 0) + counts[1].get("failed", 0) == 0


async def test_bil_04_balance_spent_meanwhile_leaves_no_half_paid_renewal(app, new_org, provision, recorded, clock,
                                                                           monkeypatch):
    """The balance looked sufficient but another payment spent it before the
    debit: the debit is refused by the ledger, the savepoint leaves neither a
    paid invoice nor an extended term, and the organization is told."""
    org, owner = await new_org(app)
    product = await provision(app, org, kind="domain", name="example.ch")
    await switch(app, org, owner, product, auto_renew=True)
    await top_up(app, org, 300)
    prepaid = app.state.prepaid

    async def stale_balance(session, organization_id):
        return 1_000_000, "CHF"

    monkeypatch.setattr(prepaid, "balance", stale_balance)
    clock.advance(days=351)
    assert await app.state.renewal_scheduler.run_once() == {"due": 1}
    monkeypatch.undo()
    [invoice] = await renewal_invoices(app, product)
    assert invoice.status == "open" and await balance(app, org) == 300
    assert (await sub_of(app, product)).term_end == D(2024, 1, 1)
    assert [e["reason"] for e in await recorded(app, "RenewalDue")] == ["prepaid_balance_too_low"]
    assert await recorded(app, "SubscriptionRenewed") == []


async def test_bil_04_the_background_loop_renews_and_stops_with_the_service(make_app, tmp_path, clock, new_org,
                                                                             provision):
    """The loop every replica runs: it finds a due subscription on its own and
    is stopped (and waited for) when the service shuts down."""
    async with make_app(f"sqlite+aiosqlite:///{tmp_path}/loop.db", clock,
                        renewal_scan_interval_seconds=0.05) as app:
        scheduler = app.state.renewal_scheduler
        assert scheduler._task is not None and not scheduler._task.done()
        org, _ = await new_org(app)
        product = await provision(app, org)  # a year from 2023-01-01
        clock.advance(days=351)  # its renewal is due now
        deadline = asyncio.get_running_loop().time() + 30
        while not await renewal_invoices(app, product):  # polled, with a deadline
            assert asyncio.get_running_loop().time() < deadline, "the loop issued no renewal invoice"
            await asyncio.sleep(0.05)
        task = scheduler._task
    assert task.done() and scheduler._task is None


async def test_x_06_renewal_claims_of_finished_terms_are_purged_the_current_one_kept(app, new_org, provision, clock):
    """Retention: a claim is kept while its term is the subscription's
    current one (it stops a second invoice for that term), and purged 90 days
    after it was made once the subscription has moved on."""
    org, owner = await new_org(app)
    renewed, waiting = await provision(app, org, kind="hosting", name="a"), await provision(app, org, kind="hosting",
                                                                                             name="b")
    clock.advance(days=351)  # 2023-12-18: both renewals invoiced
    assert await app.state.renewal_scheduler.run_once() == {"due": 2}
    [first] = await renewal_invoices(app, renewed)
    await run(app, lambda s: _pay(app, s, first.id))  # `renewed` moves on to its next term; `waiting` does not
    purge = app.state.runtime.retention.purge
    assert (await purge(now=clock.now() + dt.timedelta(days=89))).get("renewal_claim", 0) == 0
    assert (await purge(now=clock.now() + dt.timedelta(days=91)))["renewal_claim"] == 1
    claims = await run(app, lambda s: s.execute(sa.select(RenewalClaim.product_id)))
    assert [row.product_id for row in claims] == [waiting]
