"""ORG-05..10: product registry, rights, category grants, full access, teams,
accounting right, locks and maintenance, and the access check over HTTP."""
from __future__ import annotations

import uuid

from manager_shared.events import ProductDeprovisioned
from manager_shared.testing.fixtures import feed


async def _setup(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    carla = await world.join(org, anna, "collaborator", "Carla")
    return anna, org, carla


def _rights(world, org, member, body):
    return world.c.put(f"/v1/organizations/{org}/members/{member}/rights", json=body, headers=world.h(world.actor))


async def test_org_05_products_learned_from_provisioning_events(world):
    anna, org, carla = await _setup(world)
    domain = await world.product(org, "domain", "muster.ch")
    mail = await world.product(org, "mail_service", "mail muster.ch")
    await world.product(org, "vpn", "future kind")  # a kind a future service brings
    again = (await world.events("ProductAdded"))
    assert [(e.kind, e.category) for e in again] == [("domain", "domains"), ("mail_service", "mail"), ("vpn", "vpn")]
    listed = (await world.c.get(f"/v1/organizations/{org}/products", headers=world.h(anna))).json()
    by_id = {p["id"]: p for p in listed}
    assert by_id[str(domain)]["rights"] == ["use", "manage", "technical"]  # a domain has no statistics
    assert by_id[str(mail)]["rights"] == ["use", "manage", "technical", "statistics"]
    assert (await world.c.get(f"/v1/organizations/{org}/products", headers=world.h(carla))).json() == []
    await world.c.put(f"/v1/organizations/{org}/members/{carla}/rights", headers=world.h(anna),
                      json={"grants": [{"product_id": str(domain), "rights": ["use"]},
                                       {"product_id": str(mail), "rights": ["use"]}]})
    await feed(world.app, ProductDeprovisioned(product_id=domain, organization_id=org))
    assert await world.access(org, anna, "use", domain) == "product_not_found"
    members = (await world.c.get(f"/v1/organizations/{org}/members", headers=world.h(anna))).json()
    held = next(m for m in members if m["account_id"] == str(carla))["grants"]
    assert [g["product_id"] for g in held] == [str(mail)]  # the grant on the gone product went with it
    assert (await world.events("ProductRemoved"))[-1].product_id == domain


async def test_org_06_grants_category_grants_and_full_access(world):
    anna, org, carla = await _setup(world)
    world.actor = anna
    d1, d2 = await world.product(org, "domain"), await world.product(org, "domain")
    ticketing = await world.product(org, "ticketing", "Helpdesk")
    r = await _rights(world, org, carla, {"grants": [{"product_id": str(d1), "rights": ["statistics"]}]})
    assert (r.status_code, r.json()["code"], r.json()["unknown"]) == (422, "invalid_rights", ["statistics"])
    r = await _rights(world, org, carla, {"grants": [{"product_id": str(d1), "rights": ["use", "manage"]},
                                                     {"product_id": str(ticketing), "rights": ["fine:assign"]}]})
    assert r.status_code == 200
    assert await world.access(org, carla, "manage", d1) == "allowed"
    assert await world.access(org, carla, "use", d2) == "right_missing"
    assert await world.access(org, carla, "fine:assign", ticketing) == "allowed"
    assert await world.access(org, carla, "fine:configure", ticketing) == "right_missing"
    assert await world.access(org, carla, "accounting") == "role_required"
    # a category grant covers future products of the category too
    r = await _rights(world, org, carla, {"category_grants": [{"category": "domains", "rights": ["use"]}]})
    assert r.status_code == 200
    d3 = await world.product(org, "domain")
    assert [await world.access(org, carla, "use", d) for d in (d1, d2, d3)] == ["allowed"] * 3
    assert await world.access(org, carla, "manage", d1) == "right_missing"  # the grant was replaced
    event = (await world.events("MemberRightsChanged"))[-1]
    assert (event.account_id, [c.category for c in event.category_grants], event.changed_by) == (
        carla, ["domains"], anna)
    r = await world.c.post(f"/v1/organizations/{org}/members/{carla}/full-access", headers=world.h(anna))
    assert r.status_code == 200 and r.json()["full_access"] and r.json()["accounting"]
    hosting = await world.product(org, "hosting")
    assert await world.access(org, carla, "statistics", hosting) == "allowed"
    assert await world.access(org, carla, "accounting") == "allowed"  # ORG-08
    assert await world.access(org, carla, "administer") == "role_required"


async def test_org_07_teams_give_the_union_of_grants(world):
    anna, org, carla = await _setup(world)
    drive, backup = await world.product(org, "drive"), await world.product(org, "backup")
    r = await world.c.post(f"/v1/organizations/{org}/teams", headers=world.h(anna), json={
        "name": "Backoffice", "members": [str(carla)], "grants": [{"product_id": str(drive), "rights": ["use"]}]})
    assert r.status_code == 201
    team = r.json()["id"]
    world.actor = anna
    await _rights(world, org, carla, {"grants": [{"product_id": str(drive), "rights": ["statistics"]}]})
    assert await world.access(org, carla, "use", drive) == "allowed"  # from the team
    assert await world.access(org, carla, "statistics", drive) == "allowed"  # her own
    assert await world.access(org, carla, "use", backup) == "right_missing"
    r = await world.c.put(f"/v1/organizations/{org}/teams/{team}", headers=world.h(anna), json={
        "name": "Backoffice", "members": [], "grants": [{"product_id": str(drive), "rights": ["use"]}]})
    assert r.status_code == 200
    assert await world.access(org, carla, "use", drive) == "right_missing"
    r = await world.c.post(f"/v1/organizations/{org}/teams", headers=world.h(carla), json={"name": "Mine"})
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    r = await world.c.post(f"/v1/organizations/{org}/teams", headers=world.h(anna),
                           json={"name": "Ghosts", "members": [str(uuid.uuid4())]})
    assert (r.status_code, r.json()["code"]) == (422, "not_a_member")
    assert (await world.c.delete(f"/v1/organizations/{org}/teams/{team}", headers=world.h(anna))).status_code == 204
    assert [e.type for e in await world.events() if e.type.startswith("Team")] == [
        "TeamChanged", "TeamChanged", "TeamDeleted"]


async def test_org_10_lock_stops_limited_management_and_tells_everyone(world):
    anna, org, carla = await _setup(world)
    admin = await world.join(org, anna, "administrator", "Adam")
    domain = await world.product(org, "domain", "muster.ch")
    world.actor = anna
    await _rights(world, org, carla, {"grants": [{"product_id": str(domain), "rights": ["use", "manage"]}]})
    url = f"/v1/organizations/{org}/products/{domain}/lock"
    r = await world.c.put(url, headers=world.h(carla))
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    assert (await world.c.put(url, headers=world.h(admin))).json()["locked"] is True
    assert await world.access(org, carla, "manage", domain) == "product_locked"
    assert await world.access(org, carla, "use", domain) == "allowed"
    assert await world.access(org, anna, "manage", domain) == "allowed"  # full roles are not limited
    locked = (await world.events("ProductLocked"))[-1]
    assert {r.account_id for r in locked.recipients} == {anna, carla, admin}
    assert all(r.email for r in locked.recipients) and locked.product_name == "muster.ch"
    assert (await world.c.delete(url, headers=world.h(carla))).status_code == 403
    assert (await world.c.delete(url, headers=world.h(anna))).json()["locked"] is False
    assert await world.access(org, carla, "manage", domain) == "allowed"


async def test_org_10_mail_service_gets_maintenance_instead_of_a_lock(world):
    anna, org, carla = await _setup(world)
    mail = await world.product(org, "mail_service", "mail")
    world.actor = anna
    await _rights(world, org, carla, {"grants": [{"product_id": str(mail), "rights": ["use"]}]})
    r = await world.c.put(f"/v1/organizations/{org}/products/{mail}/lock", headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "product_not_lockable")
    r = await world.c.put(f"/v1/organizations/{org}/products/{mail}/maintenance", headers=world.h(anna),
                          json={"maintenance": True})
    assert r.status_code == 200 and r.json()["maintenance"]
    assert await world.access(org, carla, "use", mail) == "product_in_maintenance"
    assert (await world.events("ProductMaintenanceChanged"))[-1].maintenance is True
    domain = await world.product(org, "domain")
    r = await world.c.put(f"/v1/organizations/{org}/products/{domain}/maintenance", headers=world.h(anna),
                          json={"maintenance": True})
    assert (r.status_code, r.json()["code"]) == (422, "maintenance_not_available")


async def test_org_09_check_answers_same_for_unknown_and_foreign_organizations(world):
    anna, org, carla = await _setup(world)
    eve = await world.account("Eve")
    assert await world.access(org, eve, "view") == "not_member"
    assert await world.access(uuid.uuid4(), eve, "view") == "not_member"
    r = await world.c.get(f"/v1/organizations/{org}/access", params={"action": "drop_tables"},
                          headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    # a rights change counts at once (ASVS 8.3.2): no cache outlives it
    drive = await world.product(org, "drive")
    world.actor = anna
    await _rights(world, org, carla, {"grants": [{"product_id": str(drive), "rights": ["use"]}]})
    assert await world.access(org, carla, "use", drive) == "allowed"
    await _rights(world, org, carla, {"grants": []})
    assert await world.access(org, carla, "use", drive) == "right_missing"
