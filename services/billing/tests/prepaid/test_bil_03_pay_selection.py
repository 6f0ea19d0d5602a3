"""BIL-03: several invoices paid together, the prepaid balance covering the
whole or a part and the card the rest; all or nothing — a declined card
consumes no prepaid money and pays nothing, 3-D Secure pays nothing until it
completes, and an abandoned attempt releases its hold."""
from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from billing.invoices.models import Invoice
from billing.payments.models import PaymentAttempt
from billing.invoices.service import LineDraft
from billing.prepaid import ledger


async def invoice(world, org, amount_minor: int, currency: str = "CHF") -> Invoice:
    line = LineDraft(description="Hosting", offer_code=None, product_id=None, period_start=None, period_end=None,
                     quantity=1, unit_price_minor=amount_minor)
    async with world.app.state.runtime.db.transaction() as s:
        return await world.app.state.invoices.issue(s, organization_id=org, currency=currency, lines=[line],
                                                    source_ref=f"test:{uuid.uuid4()}")


async def statuses(world, *invoices: Invoice) -> list[str]:
    async with world.app.state.runtime.db.transaction() as s:
        return [(await s.get(Invoice, i.id)).status for i in invoices]


async def pay(world, org, who, invoices, *, use_prepaid=True, token: str | None = "tok_visa", key="auto"):
    body = {"invoice_ids": [str(i.id) for i in invoices], "use_prepaid": use_prepaid, "card_token": token}
    return await world.c.post(f"/v1/organizations/{org}/payments", json=body, headers=world.h(who, key))


async def test_bil_03_prepaid_pays_a_part_and_the_card_the_rest(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 5_000)
    first, second = await invoice(world, org, 4_000), await invoice(world, org, 3_000)
    total = first.total_minor + second.total_minor  # VAT included
    r = await pay(world, org, owner, [first, second])
    assert (r.status_code, r.json()["prepaid_minor"], r.json()["card_minor"]) == (201, 5_000, total - 5_000)
    assert await statuses(world, first, second) == ["paid", "paid"]
    assert await world.balance(org, owner) == 0
    [done] = await world.events("PaymentCompleted")
    assert set(done.invoice_numbers) == {first.number, second.number}
    assert (await world.events("BillingStandingChanged"))[-1].unpaid_invoices == 0
    again = await pay(world, org, owner, [first])
    assert (again.status_code, again.json()["code"]) == (409, "invoice_already_paid")


async def test_bil_03_prepaid_alone_needs_no_card(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 50_000)
    bill = await invoice(world, org, 10_000)
    r = await pay(world, org, owner, [bill], token=None)
    assert (r.status_code, r.json()["card_minor"]) == (201, 0)
    assert await world.balance(org, owner) == 50_000 - bill.total_minor


async def test_bil_03_declined_card_pays_nothing_and_keeps_the_balance(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    bill = await invoice(world, org, 9_000)
    r = await pay(world, org, owner, [bill], token="tok_declined")
    assert (r.status_code, r.json()["status"], r.json()["failure_reason"]) == (402, "failed", "declined")
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 2_000
    [failed] = [e for e in await world.events("PaymentFailed") if e.purpose == "invoices"]
    assert failed.invoice_numbers == [bill.number]
    r = await pay(world, org, owner, [bill], token=None)
    assert (r.status_code, r.json()["code"]) == (422, "card_token_required")


async def test_bil_03_three_d_secure_holds_then_pays_or_releases(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    bill = await invoice(world, org, 9_000)
    r = await pay(world, org, owner, [bill], token="tok_3ds")
    assert (r.status_code, r.json()["status"]) == (202, "pending")
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 0  # held
    other = await pay(world, org, owner, [bill], token="tok_visa")
    assert (other.status_code, other.json()["code"]) == (409, "payment_in_progress")
    await world.c.post(r.json()["action_url"], json={"outcome": "failed"}, headers=world.h(owner, None))
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 2_000  # released
    r = await pay(world, org, owner, [bill], token="tok_3ds")
    await world.c.post(r.json()["action_url"], json={"outcome": "succeeded"}, headers=world.h(owner, None))
    assert await statuses(world, bill) == ["paid"] and await world.balance(org, owner) == 0
    status = await world.c.get(f"/v1/organizations/{org}/payments/{r.json()['id']}", headers=world.h(owner, None))
    assert status.json()["status"] == "succeeded"


async def test_bil_03_abandoned_three_d_secure_releases_its_hold(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    bill = await invoice(world, org, 9_000)
    r = await pay(world, org, owner, [bill], token="tok_3ds")
    world.clock.advance(minutes=31)
    assert await world.app.state.payment_sweeper.sweep_once() == 1
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 2_000
    # completed after all: nothing is lost, the card's amount is on the balance
    await world.c.post(r.json()["action_url"], json={"outcome": "succeeded"}, headers=world.h(owner, None))
    assert await statuses(world, bill) == ["open"]
    assert await world.balance(org, owner) == 2_000 + r.json()["card_minor"]


async def test_bil_03_selection_rules(world):
    org, owner = await world.organization()
    other_org, _ = await world.organization()
    chf, foreign = await invoice(world, org, 1_000), await invoice(world, other_org, 1_000)
    eur = await invoice(world, org, 1_000, currency="EUR")
    r = await pay(world, org, owner, [chf, foreign])
    assert (r.status_code, r.json()["code"]) == (404, "invoice_not_found")
    r = await pay(world, org, owner, [chf, eur])
    assert (r.status_code, r.json()["code"]) == (422, "mixed_currencies")
    r = await world.c.post(f"/v1/organizations/{org}/payments", json={"invoice_ids": [], "use_prepaid": True},
                           headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert await statuses(world, chf) == ["open"]


async def test_bil_03_parallel_payments_of_one_invoice_pay_it_once(pg_world):
    world = pg_world
    org, owner = await world.organization()
    await world.top_up(org, owner, 100_000)
    bill = await invoice(world, org, 10_000)
    answers = await asyncio.gather(*(pay(world, org, owner, [bill], token=None) for _ in range(8)))
    assert sorted(r.status_code for r in answers).count(201) == 1, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code != 201} <= {"invoice_already_paid"}
    assert await world.balance(org, owner) == 100_000 - bill.total_minor
    async with world.app.state.runtime.db.transaction() as s:
        assert await ledger.ledger_sum(s, org) == 100_000 - bill.total_minor


async def test_bil_03_parallel_payments_racing_for_one_balance_are_paid_whole_or_refused_whole(pg_world):
    """Prepaid-only payments take the account's lock last (the balance read
    unlocked first): 12 invoices paid at once from a balance covering 7 →
    7 paid (one debit each), 5 refused with card_token_required and left
    entirely as they were: still open, no debit, no payment row."""
    world = pg_world
    org, owner = await world.organization()
    bills = [await invoice(world, org, 1_000) for _ in range(12)]
    await world.top_up(org, owner, 7 * bills[0].total_minor)
    answers = await asyncio.gather(*(pay(world, org, owner, [b], token=None) for b in bills))
    codes = sorted((r.status_code, r.json().get("code")) for r in answers)
    assert codes == [(201, None)] * 7 + [(422, "card_token_required")] * 5, [r.text for r in answers]
    refused = [b for b, r in zip(bills, answers) if r.status_code == 422]
    assert all(r.json()["card_minor"] == bills[0].total_minor for r in answers if r.status_code == 422)
    assert await statuses(world, *refused) == ["open"] * 5
    paid = [b for b, r in zip(bills, answers) if r.status_code == 201]
    assert await statuses(world, *paid) == ["paid"] * 7
    assert await world.balance(org, owner) == 0
    async with world.app.state.runtime.db.transaction() as s:
        assert await ledger.ledger_sum(s, org) == 0
        entries = await ledger.entries(s, org, limit=50)
        assert sorted(e.reference for e in entries if e.kind == "payment") == sorted(
            f"payment:{r.json()['id']}" for r in answers if r.status_code == 201)
        attempts = (await s.execute(sa.select(PaymentAttempt.status))).scalars().all()
    assert sorted(attempts) == ["succeeded"] * 7


async def test_org_14_one_payment_publishes_one_standing(world):
    """Debiting the balance and paying the invoice in one unit of work is one
    change of standing: one BillingStandingChanged, with the final figures."""
    org, owner = await world.organization()
    await world.top_up(org, owner, 50_000)
    bill = await invoice(world, org, 10_000)
    before = len(await world.events("BillingStandingChanged"))
    r = await pay(world, org, owner, [bill], token=None)
    assert r.status_code == 201, r.text
    published = (await world.events("BillingStandingChanged"))[before:]
    assert [(e.unpaid_invoices, e.prepaid_balance_minor) for e in published] == [(0, 50_000 - bill.total_minor)]


async def test_org_14_money_held_for_3_d_secure_still_counts_in_the_standing(world):
    """A payment waiting for 3-D Secure holds the prepaid part: the balance
    shown drops, but the standing still counts that money. If the invoice is
    cancelled meanwhile, the organization cannot be deleted until the hold is
    given back (its release would otherwise land on a closed account)."""
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    bill = await invoice(world, org, 9_000)
    r = await pay(world, org, owner, [bill], token="tok_3ds")
    assert r.status_code == 202 and await world.balance(org, owner) == 0
    async with world.app.state.runtime.db.transaction() as s:
        await world.app.state.invoices.cancel(s, bill.id, "issued by mistake")
    last = (await world.events("BillingStandingChanged"))[-1]
    assert (last.unpaid_invoices, last.prepaid_balance_minor) == (0, 2_000)
    world.clock.advance(minutes=31)
    assert await world.app.state.payment_sweeper.sweep_once() == 1
    assert await world.balance(org, owner) == 2_000
    last = (await world.events("BillingStandingChanged"))[-1]
    assert (last.unpaid_invoices, last.prepaid_balance_minor) == (0, 2_000)
