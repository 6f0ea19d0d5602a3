"""BIL-03/04: upcoming renewals selected together with open invoices and paid
in one payment; the renewal extends the product's term once paid."""
from __future__ import annotations

import uuid

from billing.catalogue.models import Subscription
from billing.invoices.models import Invoice
from manager_shared.events import ProductProvisioned
from manager_shared.testing.fixtures import feed

from .test_bil_03_pay_selection import invoice, statuses


async def provision(world, org) -> uuid.UUID:
    product = uuid.uuid4()
    await feed(world.app, ProductProvisioned(product_id=product, organization_id=org, kind="domain",
                                             name=f"{product.hex[:12]}.ch"))
    return product


async def term_end(world, product):
    async with world.app.state.runtime.db.transaction() as s:
        return (await s.get(Subscription, product)).term_end


async def pay(world, org, who, *, invoices=(), renewals=(), token="tok_visa", key="auto"):
    body = {"invoice_ids": [str(i.id) for i in invoices], "renewal_product_ids": [str(p) for p in renewals],
            "use_prepaid": True, "card_token": token}
    return await world.c.post(f"/v1/organizations/{org}/payments", json=body, headers=world.h(who, key))


async def test_bil_03_a_renewal_and_an_invoice_paid_together(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 1_000)
    product, bill = await provision(world, org), await invoice(world, org, 4_000)
    before = await term_end(world, product)
    r = await pay(world, org, owner, invoices=[bill], renewals=[product])
    assert r.status_code == 201, r.text
    paid_ids = set(r.json()["invoice_ids"])
    assert len(paid_ids) == 2 and str(bill.id) in paid_ids
    async with world.app.state.runtime.db.transaction() as s:
        renewal = await s.get(Invoice, uuid.UUID((paid_ids - {str(bill.id)}).pop()))
        assert renewal.status == "paid" and renewal.source_ref.startswith(f"renewal:{product}:")
    assert r.json()["prepaid_minor"] == 1_000 and r.json()["card_minor"] == bill.total_minor + renewal.total_minor - 1_000
    assert await term_end(world, product) > before
    [renewed] = await world.events("SubscriptionRenewed")
    assert renewed.product_id == product


async def test_bil_03_a_declined_card_leaves_the_renewal_invoiced_but_unpaid(world):
    org, owner = await world.organization()
    product = await provision(world, org)
    before = await term_end(world, product)
    r = await pay(world, org, owner, renewals=[product], token="tok_declined")
    assert r.status_code == 402, r.text
    async with world.app.state.runtime.db.transaction() as s:
        rows = [i for i in (await s.execute(Invoice.__table__.select())).all() if i.organization_id == org]
    assert [(i.status, i.source_ref.split(":")[0]) for i in rows] == [("open", "renewal")]
    assert await term_end(world, product) == before and await world.events("SubscriptionRenewed") == []


async def test_bil_03_renewal_of_another_organizations_product_is_not_found(world):
    org, owner = await world.organization()
    other, _ = await world.organization()
    product = await provision(world, other)
    r = await pay(world, org, owner, renewals=[product])
    assert (r.status_code, r.json()["code"]) == (404, "subscription_not_found")


async def test_bil_03_an_empty_selection_is_refused(world):
    org, owner = await world.organization()
    r = await pay(world, org, owner)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


async def test_bil_04_a_cancelled_renewal_invoice_does_not_block_its_term(world):
    """An operator cancels a renewal invoice (a wrong price, say): the
    scheduler does not reissue it behind their back, but the term stays
    renewable. Paying the renewal issues a new invoice, and the term is
    extended once."""
    org, owner = await world.organization()
    product = await provision(world, org)
    before = await term_end(world, product)
    declined = await pay(world, org, owner, renewals=[product], token="tok_declined")  # issues the invoice
    [first_id] = declined.json()["invoice_ids"]
    async with world.app.state.runtime.db.transaction() as s:
        await world.app.state.invoices.cancel(s, uuid.UUID(first_id), "wrong price")
    world.clock.advance(days=400)  # well past the renewal date: still nothing issued by itself
    assert await world.app.state.renewal_scheduler.run_once() == {}
    r = await pay(world, org, owner, renewals=[product])
    assert r.status_code == 201, r.text
    [second_id] = r.json()["invoice_ids"]
    assert second_id != first_id
    async with world.app.state.runtime.db.transaction() as s:
        first, second = await s.get(Invoice, uuid.UUID(first_id)), await s.get(Invoice, uuid.UUID(second_id))
        assert (first.status, second.status) == ("cancelled", "paid")
        assert second.lines[0].period_start == before  # the same term, invoiced anew
    assert await term_end(world, product) > before
    assert len(await world.events("SubscriptionRenewed")) == 1
