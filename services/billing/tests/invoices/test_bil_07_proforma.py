"""BIL-07: a pro forma PDF for selected open invoices and offers, in its own
PF- series, marked as having no legal value, never taking an invoice number."""
from __future__ import annotations

import uuid

from .conftest import line
from .test_bil_06_invoices_api import pdf_text


async def test_bil_07_proforma_of_open_invoices_and_offers(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    url = f"/v1/organizations/{org}/proforma"
    body = {"invoice_ids": [str(invoice.id)], "offers": [{"offer_code": "domain.ch.renew", "period": "yearly",
                                                          "quantity": 2}]}
    r = await world.c.post(url, json=body, headers=world.h(owner))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and "PF-2026-000001.pdf" in r.headers["content-disposition"]
    text = pdf_text(r.content)
    assert "PRO FORMA - NOT AN INVOICE - NO LEGAL VALUE" in text and "Pro forma invoice" in text
    assert "PF-2026-000001" in text and f"{invoice.number}: Web hosting Pro" in text and "domain.ch.renew" in text
    # 10000 + 2 × 1100 = 12200 net at 8.1 % → 988.2 → 988; total 13188
    assert "131.88" in text
    r = await world.c.post(url, json={**body, "language": "fr"}, headers=world.h(owner))
    assert "PF-2026-000002" in pdf_text(r.content) and "SANS VALEUR" in pdf_text(r.content)
    # no invoice number was consumed
    assert (await world.issue(org)).number == "2026-000002"


async def test_bil_07_proforma_refuses_what_cannot_be_paid(world):
    org, owner = await world.organization()
    paid = await world.issue(org)
    await world.pay(org, paid.id)
    url = f"/v1/organizations/{org}/proforma"
    r = await world.c.post(url, json={"invoice_ids": [str(paid.id)]}, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_payable")
    r = await world.c.post(url, json={}, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (422, "proforma_empty")
    r = await world.c.post(url, json={"invoice_ids": [str(uuid.uuid4())]}, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (404, "invoice_not_found")
    r = await world.c.post(url, json={"offers": [{"offer_code": "nope", "period": "yearly"}]},
                           headers=world.h(owner))
    assert r.status_code == 404
    r = await world.c.post(url, json={"offers": [{"offer_code": "domain.ch.renew", "period": "yearly"}]},
                           headers=world.h(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")
    # refused requests took no number
    r = await world.c.post(url, json={"offers": [{"offer_code": "domain.ch.renew", "period": "yearly"}]},
                           headers=world.h(owner))
    assert "PF-2026-000001" in pdf_text(r.content)
