"""ORG-01/02/03: several organizations, switching, roles and their rules."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from organizations import roles
from organizations.errors import LastLegalRepresentative, LegalRepresentativeRequired, RoleRequired

LR, ADMIN, COLLAB, EXT = "legal_representative", "administrator", "collaborator", "external"


# -- the rules themselves, no HTTP, no database ------------------------------
def test_org_03_only_legal_representatives_grant_legal_representative():
    roles.check_grant_role(LR, LR)
    roles.check_grant_role(ADMIN, COLLAB)
    with pytest.raises(LegalRepresentativeRequired):
        roles.check_grant_role(ADMIN, LR)
    for limited in (COLLAB, EXT):
        with pytest.raises(RoleRequired):
            roles.check_grant_role(limited, EXT)


def test_org_03_last_legal_representative_is_neither_demoted_removed_nor_leaves():
    with pytest.raises(LastLegalRepresentative):
        roles.check_role_change(LR, LR, ADMIN, legal_representatives=1)
    with pytest.raises(LastLegalRepresentative):
        roles.check_removal(LR, LR, legal_representatives=1)
    with pytest.raises(LastLegalRepresentative):
        roles.check_leave(LR, legal_representatives=1)
    roles.check_role_change(LR, LR, ADMIN, legal_representatives=2)
    roles.check_leave(LR, legal_representatives=2)
    with pytest.raises(LegalRepresentativeRequired):  # an administrator cannot demote a legal representative
        roles.check_role_change(ADMIN, LR, COLLAB, legal_representatives=3)


# -- over HTTP ---------------------------------------------------------------
async def test_org_01_several_organizations_and_switching(world):
    anna = await world.account("Anna")
    second = await world.company(anna, "Second AG")
    mine = (await world.c.get("/v1/organizations", headers=world.h(anna))).json()
    assert {o["kind"] for o in mine} == {"private", "company"} and all(o["role"] == LR for o in mine)
    r = await world.c.put("/v1/me/current-organization", json={"organization_id": str(second)}, headers=world.h(anna))
    assert r.status_code == 200
    r = await world.c.get("/v1/me/current-organization", headers=world.h(anna))
    assert r.json()["id"] == str(second)
    ben = await world.account("Ben")
    r = await world.c.put("/v1/me/current-organization", json={"organization_id": str(second)}, headers=world.h(ben))
    assert (r.status_code, r.json()["code"]) == (404, "organization_not_found")


async def test_org_03_role_changes_over_http(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    admin = await world.join(org, anna, ADMIN, "Adam")
    collab = await world.join(org, anna, COLLAB, "Carla")
    url = f"/v1/organizations/{org}/members/{{}}/role"
    r = await world.c.put(url.format(collab), json={"role": LR}, headers=world.h(admin))
    assert (r.status_code, r.json()["code"]) == (403, "legal_representative_required")
    r = await world.c.put(url.format(admin), json={"role": EXT}, headers=world.h(collab))
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    r = await world.c.put(url.format(anna), json={"role": ADMIN}, headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (409, "last_legal_representative")
    r = await world.c.post(f"/v1/organizations/{org}/leave", headers=world.h(anna))
    assert (r.status_code, r.json()["code"]) == (409, "last_legal_representative")
    r = await world.c.put(url.format(collab), json={"role": EXT}, headers=world.h(admin))
    assert (r.status_code, r.json()["role"]) == (200, EXT)
    r = await world.c.put(url.format(collab), json={"role": "owner"}, headers=world.h(admin))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    r = await world.c.put(url.format(uuid.uuid4()), json={"role": EXT}, headers=world.h(admin))
    assert (r.status_code, r.json()["code"]) == (404, "member_not_found")
    changed = await world.events("MemberRoleChanged")
    assert [(e.account_id, e.previous_role, e.role, e.changed_by) for e in changed] == [(collab, COLLAB, EXT, admin)]
    assert changed[0].member.email and changed[0].organization_name == "Muster AG"
    # promote then demote: two legal representatives, one may step down
    assert (await world.c.put(url.format(admin), json={"role": LR}, headers=world.h(anna))).status_code == 200
    assert (await world.c.put(url.format(anna), json={"role": ADMIN}, headers=world.h(admin))).status_code == 200
    assert (await world.c.post(f"/v1/organizations/{org}/leave", headers=world.h(admin))).json()["code"] == \
        "last_legal_representative"


@pytest.mark.integration
async def test_org_03_parallel_demotions_on_postgresql_keep_a_legal_representative(pg_world):
    """Two legal representatives demote each other at the same moment: the
    organization's row lock serialises them, so exactly one succeeds."""
    world, client = pg_world, pg_world.c
    for _ in range(3):
        anna = await world.account("Anna")
        org = await world.company(anna)
        ben = await world.join(org, anna, ADMIN, "Ben")
        url = f"/v1/organizations/{org}/members/{{}}/role"
        assert (await client.put(url.format(ben), json={"role": LR}, headers=world.h(anna))).status_code == 200
        answers = await asyncio.gather(
            client.put(url.format(ben), json={"role": ADMIN}, headers=world.h(anna)),
            client.put(url.format(anna), json={"role": ADMIN}, headers=world.h(ben)))
        assert sorted(r.status_code for r in answers) in ([200, 403], [200, 409]), [r.text for r in answers]
        survivor = anna if answers[0].status_code == 200 else ben
        members = (await client.get(f"/v1/organizations/{org}/members", headers=world.h(survivor))).json()
        assert [m["role"] for m in members].count(LR) == 1


async def test_x_03_organizations_answer_times_with_an_offset(world):
    """On SQLite (no time zone type) the organization, its list and its
    members answer every time RFC 3339 with an offset."""
    from manager_shared.testing.times import assert_times_have_offsets

    anna = await world.account("Anna")
    org = await world.company(anna)
    h = world.h(anna)
    assert_times_have_offsets((await world.c.get(f"/v1/organizations/{org}", headers=h)).json())
    assert_times_have_offsets((await world.c.get("/v1/organizations", headers=h)).json(), expect=2)
    assert_times_have_offsets((await world.c.get(f"/v1/organizations/{org}/members", headers=h)).json())
