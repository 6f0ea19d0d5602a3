"""BIL-06: the buyer on invoices comes from organizations' events (billing
address first, else the postal one) and is frozen on each invoice; times
in the API carry their offset (X-03)."""
from __future__ import annotations

import uuid

import pytest

from manager_shared.events import BillingAddress, OrganizationDetailsChanged, PostalAddress
from manager_shared.testing.fixtures import feed
from manager_shared.testing.times import assert_times_have_offsets

from .conftest import line


async def test_bil_06_buyer_from_billing_address_and_frozen_on_issued_invoices(world):
    org, owner = await world.organization("CH")
    before = await world.issue(org)
    await feed(world.app, OrganizationDetailsChanged(
        organization_id=org, name="Muster Holding AG", kind="company", phone=None, currency="CHF", has_logo=False,
        address=PostalAddress(street="Bahnhofstrasse 1", postal_code="8001", city="Zürich", country="CH"),
        billing_addresses=[BillingAddress(id=uuid.uuid4(), name="Accounts", street="Postfach 12",
                                          postal_code="6900", city="Lugano", country="ch")],
        changed_fields=["billing_addresses"], changed_by=owner, recipients=[]))
    after = await world.issue(org)
    assert (before.buyer_name, before.buyer_street, before.buyer_city) == ("Muster AG", "Bahnhofstrasse 1", "Zürich")
    assert (after.buyer_name, after.buyer_street, after.buyer_postal_code, after.buyer_city, after.buyer_country) \
        == ("Muster Holding AG", "Postfach 12", "6900", "Lugano", "CH")
    assert after.buyer_is_business
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{before.id}", headers=world.h(owner))
    assert r.json()["number"] == before.number


async def test_bil_06_invoices_in_eur_for_an_organization_moved_abroad(world):
    org, owner = await world.organization("AT", kind="private")
    invoice = await world.issue(org, line(10000), currency="EUR")
    assert (invoice.vat_treatment, invoice.vat_minor, invoice.buyer_country) == ("eu_destination", 2000, "AT")
    assert invoice.payment_reference.startswith("RF")


async def test_bil_06_unknown_currency_and_empty_invoices_are_refused(world):
    from billing.invoices.errors import CurrencyNotSupported, InvalidInvoice

    org, _ = await world.organization()
    with pytest.raises(CurrencyNotSupported):
        await world.issue(org, line(), currency="USD")
    async with world.app.state.runtime.db.transaction() as session:
        with pytest.raises(InvalidInvoice):
            await world.app.state.invoices.issue(session, organization_id=org, currency="CHF", lines=[],
                                                 source_ref="empty")
    with pytest.raises(InvalidInvoice):
        await world.issue(org, line(description=" "))


async def test_x_03_invoice_times_have_an_offset(world):
    org, owner = await world.organization()
    invoice = await world.issue(org)
    await world.pay(org, invoice.id)
    r = await world.c.get(f"/v1/organizations/{org}/invoices", headers=world.h(owner))
    assert r.status_code == 200 and r.json()["items"][0]["paid_at"]
    assert_times_have_offsets(r.json())
