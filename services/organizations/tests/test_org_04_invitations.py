"""ORG-04: invitations by e-mail, single use, expiring, revocable, for existing
accounts and for addresses that sign up later."""
from __future__ import annotations

import uuid
from datetime import timedelta


async def _members(world, org, by):
    return {m["account_id"]: m for m in (await world.c.get(f"/v1/organizations/{org}/members",
                                                            headers=world.h(by))).json()}


async def test_org_04_existing_account_accepts_once_with_role_and_initial_rights(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    domain = await world.product(org, "domain", "muster.ch")
    ben = await world.account("Ben", email="Ben@Example.ch")
    r = await world.invite(org, anna, "ben@example.CH", "collaborator",
                           grants=[{"product_id": str(domain), "rights": ["use", "technical"]}], accounting=True)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    created = (await world.events("InvitationCreated"))[-1]
    assert (created.email, created.role, created.account_exists, created.organization_name,
            created.invited_by_name) == ("ben@example.ch", "collaborator", True, "Muster AG", "Anna Muster")
    assert created.expires_at - created.occurred_at >= timedelta(hours=71, minutes=59)
    assert "token" not in r.text  # the token only travels by mail
    accept = {"token": created.token}
    mine = (await world.c.get("/v1/me/invitations", headers=world.h(ben))).json()
    assert [(i["organization_name"], i["role"]) for i in mine] == [("Muster AG", "collaborator")]
    eve = await world.account("Eve")
    r = await world.c.post("/v1/invitations/accept", json=accept, headers=world.h(eve))
    assert (r.status_code, r.json()["code"]) == (403, "invitation_for_another_address")
    r = await world.c.post("/v1/invitations/accept", json=accept, headers=world.h(ben))
    assert (r.status_code, r.json()["role"]) == (200, "collaborator")
    r = await world.c.post("/v1/invitations/accept", json=accept, headers=world.h(ben))
    assert (r.status_code, r.json()["code"]) == (404, "invitation_not_found")  # single use
    assert (await world.c.get("/v1/me/invitations", headers=world.h(ben))).json() == []
    member = (await _members(world, org, anna))[str(ben)]
    assert member["accounting"] and member["grants"] == [{"product_id": str(domain), "rights": ["technical", "use"]}]
    added = (await world.events("MemberAdded"))[-1]
    assert added.account_id == ben and added.grants[0].rights == ["technical", "use"] and added.accounting
    assert await world.access(org, ben, "technical", domain) == "allowed"
    assert await world.access(org, ben, "manage", domain) == "right_missing"
    r = await world.invite(org, anna, "ben@example.ch", "external")
    assert (r.status_code, r.json()["code"]) == (409, "already_member")


async def test_org_04_address_without_account_signs_up_then_accepts(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    assert (await world.invite(org, anna, "new.person@example.ch", "external")).status_code == 201
    created = (await world.events("InvitationCreated"))[-1]
    assert created.account_exists is False
    newcomer = await world.account("Nora", email="new.person@example.ch")
    # an invited sign-up gets no personal organization: it joins the inviting one
    assert (await world.c.get("/v1/organizations", headers=world.h(newcomer))).json() == []
    r = await world.c.post("/v1/invitations/accept", json={"token": created.token}, headers=world.h(newcomer))
    assert (r.status_code, r.json()["id"], r.json()["role"]) == (200, str(org), "external")
    # ORG-01: leaving its only organization, the account gets one in its own name again
    assert (await world.c.post(f"/v1/organizations/{org}/leave", headers=world.h(newcomer))).status_code == 204
    mine = (await world.c.get("/v1/organizations", headers=world.h(newcomer))).json()
    assert [(o["name"], o["kind"], o["role"]) for o in mine] == [("Nora Muster", "private", "legal_representative")]


async def test_org_04_revoked_and_expired_invitations_do_not_work(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    ben = await world.account("Ben", email="ben.r@example.ch")
    r = await world.invite(org, anna, "ben.r@example.ch", "collaborator")
    invitation_id, token = r.json()["id"], await world.last_token("ben.r@example.ch")
    r = await world.invite(org, anna, "ben.r@example.ch", "collaborator")
    assert (r.status_code, r.json()["code"]) == (409, "invitation_pending")
    assert (await world.c.delete(f"/v1/organizations/{org}/invitations/{invitation_id}",
                                 headers=world.h(anna))).status_code == 204
    r = await world.c.post("/v1/invitations/accept", json={"token": token}, headers=world.h(ben))
    assert (r.status_code, r.json()["code"]) == (404, "invitation_not_found")
    assert (await world.events("InvitationRevoked"))[-1].email == "ben.r@example.ch"
    listed = (await world.c.get(f"/v1/organizations/{org}/invitations", headers=world.h(anna))).json()
    assert [i["status"] for i in listed] == ["revoked"]


async def test_org_04_invitation_expires_after_72_hours(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    ben = await world.account("Ben", email="ben.x@example.ch")
    await world.invite(org, anna, "ben.x@example.ch", "collaborator")
    await world.invite(org, anna, "late@example.ch", "collaborator")
    token = await world.last_token("ben.x@example.ch")
    world.clock.at += timedelta(hours=72, seconds=1)
    r = await world.c.post("/v1/invitations/accept", json={"token": token}, headers=world.h(ben))
    assert (r.status_code, r.json()["code"]) == (410, "invitation_expired")
    # an expired invitation no longer keeps a sign-up from its own organization
    late = await world.account("Lea", email="late@example.ch")
    assert len((await world.c.get("/v1/organizations", headers=world.h(late))).json()) == 1


async def test_org_04_invitation_rules_follow_org_03(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    admin = await world.join(org, anna, "administrator", "Adam")
    collab = await world.join(org, anna, "collaborator", "Carla")
    r = await world.invite(org, admin, "x@example.ch", "legal_representative")
    assert (r.status_code, r.json()["code"]) == (403, "legal_representative_required")
    r = await world.invite(org, collab, "x@example.ch", "external")
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    r = await world.invite(org, anna, "not-an-address", "external")
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    r = await world.invite(org, anna, "x@example.ch", "external",
                           grants=[{"product_id": str(uuid.uuid4()), "rights": ["use"]}])
    assert (r.status_code, r.json()["code"]) == (422, "unknown_product")
