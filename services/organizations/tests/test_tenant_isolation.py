"""Tenant isolation: every organization-scoped endpoint, called by a member of
another organization, answers 404 organization_not_found and changes nothing;
ids of another organization's members, teams, products and invitations are
never reachable through one's own organization."""
from __future__ import annotations

import uuid

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
ADDRESS = {"street": "Rue 1", "postal_code": "1000", "city": "Lausanne", "country": "CH"}


async def _victim(world):
    anna = await world.account("Anna", two_factor=True)
    org = await world.company(anna, "Victim SA")
    carla = await world.join(org, anna, "collaborator", "Carla")
    product = await world.product(org, "domain", "victim.ch")
    team = (await world.c.post(f"/v1/organizations/{org}/teams", headers=world.h(anna),
                               json={"name": "T", "members": [str(carla)]})).json()["id"]
    invitation = (await world.invite(org, anna, "someone@example.ch", "external")).json()["id"]
    address = (await world.c.post(f"/v1/organizations/{org}/billing-addresses", headers=world.h(anna),
                                  json={**ADDRESS, "name": "B"})).json()["id"]
    return anna, {"organization_id": str(org), "account_id": str(carla), "product_id": str(product),
                  "team_id": str(team), "invitation_id": str(invitation), "address_id": str(address)}


BODIES = {
    ("put", "/v1/organizations/{organization_id}/members/{account_id}/role"): {"role": "external"},
    ("post", "/v1/organizations/{organization_id}/members/{account_id}/removal"): {"confirm": True},
    ("post", "/v1/organizations/{organization_id}/invitations"): {"email": "x@example.ch", "role": "external"},
    ("put", "/v1/organizations/{organization_id}/members/{account_id}/rights"): {},
    ("post", "/v1/organizations/{organization_id}/teams"): {"name": "Evil"},
    ("put", "/v1/organizations/{organization_id}/teams/{team_id}"): {"name": "Evil"},
    ("put", "/v1/organizations/{organization_id}/products/{product_id}/maintenance"): {"maintenance": True},
    ("put", "/v1/organizations/{organization_id}/policies/two-factor"): {"required": False},
    ("put", "/v1/organizations/{organization_id}/details"): {"name": "Evil", "kind": "company"},
    ("post", "/v1/organizations/{organization_id}/billing-addresses"): {**ADDRESS, "name": "Evil"},
    ("post", "/v1/organizations/{organization_id}/deletion"): {"confirm": True},
}


async def test_x_tenant_isolation_every_endpoint_refuses_other_organizations(world):
    anna, ids = await _victim(world)
    eve = await world.account("Eve", two_factor=True)
    await world.company(eve, "Eve GmbH")
    before = len(await world.events())
    operations = [(method, path) for path, item in world.app.openapi()["paths"].items()
                  for method in item if "{organization_id}" in path]
    assert len(operations) >= 25  # every organization-scoped operation is in the list
    for method, path in operations:
        url = path.format(**ids)
        kwargs = {"headers": world.h(eve)}
        if (method, path) in BODIES:
            kwargs["json"] = BODIES[(method, path)]
        elif path.endswith("/logo") and method == "put":
            kwargs = {"content": PNG, "headers": {**world.h(eve), "content-type": "image/png"}}
        elif path.endswith("/access"):
            r = await world.c.get(url, params={"action": "view"}, headers=world.h(eve))
            assert r.json() == {"allowed": False, "code": "not_member"}, url
            continue
        r = await world.c.request(method.upper(), url, **kwargs)
        assert (r.status_code, r.json()["code"]) == (404, "organization_not_found"), (method, url, r.text)
    assert len(await world.events()) == before  # nothing was changed or announced


async def test_x_tenant_isolation_foreign_sub_resources_are_not_found(world):
    _, ids = await _victim(world)
    eve = await world.account("Eve", two_factor=True)
    own = await world.company(eve, "Eve GmbH")
    base = f"/v1/organizations/{own}"
    h = world.h(eve)
    checks = [
        ("PUT", f"{base}/members/{ids['account_id']}/role", {"role": "external"}, "member_not_found"),
        ("PUT", f"{base}/members/{ids['account_id']}/rights", {}, "member_not_found"),
        ("PUT", f"{base}/teams/{ids['team_id']}", {"name": "x"}, "team_not_found"),
        ("DELETE", f"{base}/teams/{ids['team_id']}", None, "team_not_found"),
        ("PUT", f"{base}/products/{ids['product_id']}/lock", None, "product_not_found"),
        ("DELETE", f"{base}/invitations/{ids['invitation_id']}", None, "invitation_not_found"),
        ("DELETE", f"{base}/billing-addresses/{ids['address_id']}", None, "billing_address_not_found"),
    ]
    for method, url, body, code in checks:
        r = await world.c.request(method, url, json=body, headers=h)
        assert (r.status_code, r.json()["code"]) == (404, code), (url, r.text)
    r = await world.c.put(f"{base}/members/{eve}/rights", headers=h,
                          json={"grants": [{"product_id": ids["product_id"], "rights": ["use"]}]})
    assert (r.status_code, r.json()["code"]) == (422, "unknown_product")
    assert await world.access(uuid.UUID(ids["organization_id"]), eve, "use", uuid.UUID(ids["product_id"])) == \
        "not_member"
