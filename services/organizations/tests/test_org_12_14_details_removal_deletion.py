"""ORG-12 details, ORG-13 removing a user, ORG-14 deleting an organization."""
from __future__ import annotations

import uuid

from manager_shared.events import BillingAccountOpened, ProductDeprovisioned
from manager_shared.testing.fixtures import feed

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ADDRESS = {"street": "Bahnhofstrasse 1", "postal_code": "8001", "city": "Zürich", "country": "ch"}


async def test_org_12_details_by_legal_representative_currency_from_address(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    admin = await world.join(org, anna, "administrator", "Adam")
    url = f"/v1/organizations/{org}/details"
    body = {"name": "Muster GmbH", "kind": "company", "address": {**ADDRESS, "country": "DE"},
            "phone": "+41 44 668 18 00"}
    r = await world.c.put(url, json=body, headers=world.h(admin))
    assert (r.status_code, r.json()["code"]) == (403, "legal_representative_required")
    r = await world.c.put(url, json=body, headers=world.h(anna))
    assert r.status_code == 200 and (r.json()["currency"], r.json()["phone"]) == ("EUR", "+41446681800")
    changed = (await world.events("OrganizationDetailsChanged"))[-1]
    assert changed.currency == "EUR" and "currency" in changed.changed_fields
    assert [x.account_id for x in changed.recipients] == [anna]  # the legal representatives get the summary
    r = await world.c.put(url, json={**body, "address": ADDRESS}, headers=world.h(anna))
    assert r.json()["currency"] == "CHF" and r.json()["country"] == "CH"
    r = await world.c.put(url, json={**body, "phone": "12"}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "invalid_phone")
    r = await world.c.put(url, json={**body, "kind": "private"}, headers=world.h(anna))
    assert r.status_code == 422
    r = await world.c.post(f"/v1/organizations/{org}/billing-addresses", headers=world.h(anna),
                           json={**ADDRESS, "name": "Filiale Bern", "country": "LI"})
    assert r.status_code == 201
    assert (await world.events("OrganizationDetailsChanged"))[-1].billing_addresses[0].name == "Filiale Bern"
    # a private organization has no editable details
    personal = (await world.c.get("/v1/organizations", headers=world.h(anna))).json()[0]
    assert personal["kind"] == "private"
    r = await world.c.put(f"/v1/organizations/{personal['id']}/details", json=body, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (409, "private_organization")


async def test_org_12_logo_type_and_size_checked(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    url = f"/v1/organizations/{org}/logo"
    r = await world.c.put(url, content=PNG, headers={**world.h(anna), "content-type": "image/png"})
    assert r.status_code == 204
    r = await world.c.get(url, headers=world.h(anna))
    assert (r.content, r.headers["content-type"]) == (PNG, "image/png")
    r = await world.c.put(url, content=b"<svg onload=alert(1)>", headers={**world.h(anna), "content-type": "image/png"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_logo")
    r = await world.c.put(url, content=PNG, headers={**world.h(anna), "content-type": "image/svg+xml"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_logo")
    big = PNG + b"\x00" * (512 * 1024)
    r = await world.c.put(url, content=big, headers={**world.h(anna), "content-type": "image/png"})
    assert (r.status_code, r.json()["code"]) == (413, "logo_too_large")
    assert (await world.events("OrganizationDetailsChanged"))[-1].has_logo is True


async def test_org_13_remove_user_needs_recent_sign_in_confirmation_and_data_decisions(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    carla = await world.join(org, anna, "collaborator", "Carla")
    ben = await world.join(org, anna, "administrator", "Ben")
    drive, domain = await world.product(org, "drive", "Team Drive"), await world.product(org, "domain")
    await world.c.put(f"/v1/organizations/{org}/members/{carla}/rights", headers=world.h(anna),
                      json={"grants": [{"product_id": str(drive), "rights": ["use"]},
                                       {"product_id": str(domain), "rights": ["use"]}]})
    url = f"/v1/organizations/{org}/members/{carla}/removal"
    decision = {"product_id": str(drive), "action": "transfer", "transfer_to": str(ben)}
    r = await world.c.post(url, json={"confirm": True, "data": [decision]}, headers=world.h(anna, auth_age=301))
    assert (r.status_code, r.json()["code"]) == (403, "recent_sign_in_required")
    r = await world.c.post(url, json={"data": [decision]}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "confirmation_required")
    r = await world.c.post(url, json={"confirm": True}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"], r.json()["missing"]) == (422, "data_decision_required", [str(drive)])
    r = await world.c.post(url, json={"confirm": True, "data": [{**decision, "transfer_to": str(uuid.uuid4())}]},
                           headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "invalid_transfer_target")
    r = await world.c.post(url, json={"confirm": True, "data": [decision]}, headers=world.h(carla))
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    assert (await world.c.post(url, json={"confirm": True, "data": [decision]}, headers=world.h(anna))).status_code \
        == 204
    removed = (await world.events("MemberRemoved"))[-1]
    assert (removed.account_id, removed.reason, removed.removed_by) == (carla, "removed", anna)
    assert [(d.product_id, d.action, d.transfer_to) for d in removed.data_decisions] == [(drive, "transfer", ben)]
    assert await world.access(org, carla, "view") == "not_member"
    r = await world.c.post(f"/v1/organizations/{org}/members/{anna}/removal", json={"confirm": True},
                           headers=world.h(ben))
    assert (r.status_code, r.json()["code"]) == (403, "legal_representative_required")


async def test_org_14_delete_only_when_empty_and_billing_is_settled(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    carla = await world.join(org, anna, "collaborator", "Carla")
    domain = await world.product(org, "domain")
    url = f"/v1/organizations/{org}/deletion"
    r = await world.c.post(url, json={"confirm": True}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (409, "organization_not_deletable")
    assert r.json()["unmet"] == ["products_remaining", "other_members_remaining", "billing_facts_unknown"]
    await feed(world.app, ProductDeprovisioned(product_id=domain, organization_id=org),
               BillingAccountOpened(organization_id=org, billing_account_id=uuid.uuid4(), currency="CHF"))
    await world.c.post(f"/v1/organizations/{org}/members/{carla}/removal", json={"confirm": True},
                       headers=world.h(anna))
    r = await world.c.post(url, json={"confirm": True}, headers=world.h(anna, auth_age=600))
    assert (r.status_code, r.json()["code"]) == (403, "recent_sign_in_required")
    r = await world.c.post(url, json={}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "confirmation_required")
    assert (await world.c.post(url, json={"confirm": True}, headers=world.h(anna))).status_code == 204
    deleted = (await world.events("OrganizationDeleted"))[-1]
    assert (deleted.organization_id, deleted.requester.email is not None, deleted.send_paid_invoices) == (
        org, True, True)
    assert (await world.c.get(f"/v1/organizations/{org}", headers=world.h(anna))).status_code == 404
    # the account stays, with its other organization
    assert len((await world.c.get("/v1/organizations", headers=world.h(anna))).json()) == 1
