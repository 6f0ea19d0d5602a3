"""The same capability on PostgreSQL (row locks, booleans, binary logo, JSON
columns): one walk through ORG-04..14."""
from __future__ import annotations

import uuid

import pytest

from manager_shared.events import BillingAccountOpened, ProductDeprovisioned
from manager_shared.testing.fixtures import feed

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


async def test_org_04_to_14_walk_through_on_postgresql(pg_world):
    w = pg_world
    anna = await w.account("Anna", two_factor=True)
    org = await w.company(anna)
    drive = await w.product(org, "drive", "Drive")
    carla = await w.join(org, anna, "collaborator", "Carla",
                         grants=[{"product_id": str(drive), "rights": ["use"]}])
    assert await w.access(org, carla, "use", drive) == "allowed"
    team = await w.c.post(f"/v1/organizations/{org}/teams", headers=w.h(anna), json={
        "name": "Ops", "members": [str(carla)], "grants": [{"product_id": str(drive), "rights": ["manage"]}]})
    assert team.status_code == 201
    assert await w.access(org, carla, "manage", drive) == "allowed"
    assert (await w.c.put(f"/v1/organizations/{org}/products/{drive}/lock", headers=w.h(anna))).status_code == 200
    assert await w.access(org, carla, "manage", drive) == "product_locked"
    r = await w.c.put(f"/v1/organizations/{org}/policies/two-factor", json={"required": True, "confirm": True},
                      headers=w.h(anna))
    assert r.status_code == 200
    assert await w.access(org, carla, "use", drive) == "two_factor_required"
    r = await w.c.put(f"/v1/organizations/{org}/details", headers=w.h(anna), json={
        "name": "Muster AG", "kind": "association",
        "address": {"street": "Hauptstrasse 1", "postal_code": "9490", "city": "Vaduz", "country": "LI"}})
    assert r.json()["currency"] == "CHF"
    r = await w.c.put(f"/v1/organizations/{org}/logo", content=PNG, headers={**w.h(anna), "content-type": "image/png"})
    assert r.status_code == 204
    assert (await w.c.get(f"/v1/organizations/{org}/logo", headers=w.h(anna))).content == PNG
    r = await w.c.post(f"/v1/organizations/{org}/members/{carla}/removal", headers=w.h(anna),
                       json={"confirm": True, "data": [{"product_id": str(drive), "action": "delete"}]})
    assert r.status_code == 204
    await feed(w.app, ProductDeprovisioned(product_id=drive, organization_id=org),
               BillingAccountOpened(organization_id=org, billing_account_id=uuid.uuid4(), currency="CHF"))
    r = await w.c.post(f"/v1/organizations/{org}/deletion", json={"confirm": True}, headers=w.h(anna))
    assert r.status_code == 204, r.text
    assert await w.access(org, anna, "view") == "not_member"
