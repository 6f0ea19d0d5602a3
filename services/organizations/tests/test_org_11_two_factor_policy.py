"""ORG-11: members without 2FA, security alert, "2FA required"."""
from __future__ import annotations


async def test_org_11_list_alert_require_and_enforce_two_factor(world):
    anna = await world.account("Anna", two_factor=True)
    org = await world.company(anna)
    carla = await world.join(org, anna, "collaborator", "Carla")
    ext = await world.join(org, anna, "external", "Emil")
    drive = await world.product(org, "drive")
    await world.c.put(f"/v1/organizations/{org}/members/{carla}/rights", headers=world.h(anna),
                      json={"grants": [{"product_id": str(drive), "rights": ["use"]}]})
    r = await world.c.get(f"/v1/organizations/{org}/members", params={"two_factor": "false"}, headers=world.h(anna))
    assert {m["account_id"] for m in r.json()} == {str(carla), str(ext)}
    r = await world.c.post(f"/v1/organizations/{org}/members/{carla}/security-alert", headers=world.h(anna))
    assert r.status_code == 202
    alert = (await world.events("SecurityAlertRequested"))[-1]
    assert (alert.account_id, alert.member.first_name, alert.requested_by_name) == (carla, "Carla", "Anna Muster")

    url = f"/v1/organizations/{org}/policies/two-factor"
    r = await world.c.put(url, json={"required": True}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (422, "confirmation_required")
    r = await world.c.put(url, json={"required": True, "confirm": True}, headers=world.h(carla))
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    r = await world.c.put(url, json={"required": True, "confirm": True}, headers=world.h(anna))
    assert r.json() == {"two_factor_required": True}
    policy = (await world.events("TwoFactorPolicyChanged"))[-1]
    assert {m.account_id for m in policy.members_without_two_factor} == {carla, ext}

    # from the next action: web refused with a clear code, sync keeps working
    assert await world.access(org, carla, "use", drive) == "two_factor_required"
    assert await world.access(org, carla, "use", drive, channel="sync") == "allowed"
    r = await world.c.get(f"/v1/organizations/{org}/products", headers=world.h(carla))
    assert (r.status_code, r.json()["code"]) == (403, "two_factor_required")
    # setting up 2FA lifts it at once
    await world.two_factor(carla, 1)
    assert await world.access(org, carla, "use", drive) == "allowed"
    assert (await world.events("MemberTwoFactorStatusChanged"))[-1].two_factor_enabled is True
    await world.two_factor(carla, 0)
    assert await world.access(org, carla, "use", drive) == "two_factor_required"
    # an external user may leave instead
    assert (await world.c.post(f"/v1/organizations/{org}/leave", headers=world.h(ext))).status_code == 204
    assert (await world.events("MemberRemoved"))[-1].reason == "left"


async def test_org_11_caller_without_two_factor_cannot_require_it(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    r = await world.c.put(f"/v1/organizations/{org}/policies/two-factor", json={"required": True, "confirm": True},
                          headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (409, "caller_without_two_factor")
