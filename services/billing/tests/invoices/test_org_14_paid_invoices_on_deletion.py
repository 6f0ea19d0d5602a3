"""ORG-14: on deletion, the paid invoices go to the requester (as the CSV of
InvoicesExported), once, and only when asked; the invoices stay."""
from __future__ import annotations

import csv
import io
import uuid

from billing.invoices import deletion
from manager_shared.events import OrganizationDeleted, Recipient
from manager_shared.testing.fixtures import feed, recorded

from .conftest import line


def deleted(org: uuid.UUID, owner: uuid.UUID, send: bool) -> OrganizationDeleted:
    return OrganizationDeleted(organization_id=org, name="Muster AG", deleted_by=owner, send_paid_invoices=send,
                               requester=Recipient(account_id=owner, email="owner@example.ch", language="de"),
                               org_version=9)


async def test_org_14_paid_invoices_mailed_once_to_the_requester(world):
    org, owner = await world.organization()
    paid, refunded, _open = await world.issue(org, line(10000)), await world.issue(org, line(500)), \
        await world.issue(org, line(700))
    await world.pay(org, paid.id)
    await world.pay(org, refunded.id)
    await world.c.post(f"/v1/invoices/{refunded.id}/refunds", json={"amount_minor": 541, "reason": "x"},
                       headers=world.op)
    assert await feed(world.app, deleted(org, owner, True), deleted(org, owner, True)) == ["processed", "processed"]
    [event] = await recorded(world.app, "InvoicesExported")
    assert (event.requested_by, event.invoice_count, event.filename) == (owner, 2, "paid-invoices.csv")
    rows = list(csv.DictReader(io.StringIO(event.csv)))
    assert sorted((r["number"], r["status"]) for r in rows) == [(paid.number, "paid"), (refunded.number, "refunded")]
    r = await world.c.get(f"/v1/organizations/{org}/invoices", headers=world.h(owner))
    assert r.json()["total"] == 4  # three invoices and the credit note are kept


async def test_org_14_nothing_mailed_when_not_asked(world):
    org, owner = await world.organization()
    await world.pay(org, (await world.issue(org)).id)
    await feed(world.app, deleted(org, owner, False))
    assert await recorded(world.app, "InvoicesExported") == []


def test_org_14_the_csv_stays_within_the_bound(monkeypatch):
    from .test_bil_06_documents_unit import FakeInvoice

    monkeypatch.setattr(deletion, "MAX_EXPORT_CSV_BYTES", 400)
    invoices = [FakeInvoice(number=f"2026-{n:06d}", payment_reference=None) for n in range(30, 0, -1)]
    content, count = deletion.bounded_csv(invoices)
    assert len(content.encode()) <= 400 and 0 < count < 30
    assert [r["number"] for r in csv.DictReader(io.StringIO(content))] == [f"2026-{n:06d}"
                                                                         for n in range(30, 30 - count, -1)]
    assert deletion.bounded_csv(invoices[:1])[1] == 1
