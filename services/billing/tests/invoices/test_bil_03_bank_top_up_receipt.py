"""BIL-03 / BIL-02: a top-up paid by bank transfer and matched automatically
on the camt.054 import tells the customer, as a card top-up does
(PrepaidTopUpCredited, means bank_transfer, with the new balance); one a
person assigns from the queue is told by BankPaymentAssigned instead, so the
customer never gets two receipts for one transfer."""
from __future__ import annotations

import sqlalchemy as sa

from billing.invoices.models import BankPayment
from manager_shared.testing.fixtures import recorded

from .camt_samples import camt054, credit

XML = {"Content-Type": "application/xml"}


async def test_bil_03_matched_bank_top_up_records_the_customer_receipt_once(world):
    org, owner = await world.organization()
    slip = (await world.c.post(f"/v1/organizations/{org}/prepaid/transfer-slip", headers=world.h(owner))).json()
    # a credit without reference, assigned to the balance by a person: BankPaymentAssigned tells it
    queued = camt054(credit("TX-Q", 700, None), msg_id="MSG-Q")
    r = await world.c.post("/v1/bank/camt054", content=queued, headers={**world.op, **XML})
    [waiting] = (await world.c.get("/v1/bank/unmatched", headers=world.op)).json()["items"]
    r = await world.c.post(f"/v1/bank/payments/{waiting['id']}/assign", json={"organization_id": str(org)},
                           headers=world.op)
    assert r.status_code == 200
    assert await recorded(world.app, "PrepaidTopUpCredited") == []

    body = camt054(credit("TX-T", 25000, slip["reference"]))
    r = await world.c.post("/v1/bank/camt054", content=body, headers={**world.op, **XML})
    assert r.json()["matched"] == 1
    async with world.app.state.runtime.db.transaction() as session:
        payment_id = (await session.execute(
            sa.select(BankPayment.id).where(BankPayment.entry_ref == "TX-T"))).scalar_one()
    [event] = await recorded(world.app, "PrepaidTopUpCredited")
    assert (event.organization_id, event.top_up_id, event.means) == (org, payment_id, "bank_transfer")
    assert (event.amount_minor, event.currency, event.balance_minor) == (25000, "CHF", 25700)
    # the same file again credits nothing and tells nobody again
    again = await world.c.post("/v1/bank/camt054", content=body, headers={**world.op, **XML})
    assert again.json()["duplicate"] is True
    assert len(await recorded(world.app, "PrepaidTopUpCredited")) == 1
    balance = (await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner))).json()
    assert balance["balance_minor"] == 25700
