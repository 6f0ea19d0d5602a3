"""IDN-01 in organizations: an invitation and the signed-in account's address
are compared in their normalised form (NFKC, case folding), so an invitation
typed `ＢＥＮ@Example.ch` is for the account `ben@example.ch`. On SQLite and
PostgreSQL."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request):
    return request.getfixturevalue("world" if request.param == "sqlite" else "pg_world")


async def test_idn_01_invitation_in_another_form_is_for_the_account(any_world):
    w = any_world
    anna = await w.account("Anna")
    org = await w.company(anna)
    ben = await w.account("Ben", email="Ben@Example.ch")
    r = await w.invite(org, anna, "ｂｅｎ@example.ch", "collaborator")
    assert r.status_code == 201, r.text
    created = (await w.events("InvitationCreated"))[-1]
    assert created.account_exists is True and created.email == "ben@example.ch"  # a deliverable form
    mine = (await w.c.get("/v1/me/invitations", headers=w.h(ben))).json()
    assert [i["role"] for i in mine] == ["collaborator"]
    r = await w.c.post("/v1/invitations/accept", json={"token": created.token}, headers=w.h(ben))
    assert (r.status_code, r.json()["role"]) == (200, "collaborator")
    r = await w.invite(org, anna, "BEN@EXAMPLE.CH", "external")
    assert (r.status_code, r.json()["code"]) == (409, "already_member")


async def test_idn_01_invited_full_width_sign_up_joins_without_a_personal_organization(any_world):
    w = any_world
    anna = await w.account("Anna")
    org = await w.company(anna)
    assert (await w.invite(org, anna, "NEW.person@example.ch", "external")).status_code == 201
    created = (await w.events("InvitationCreated"))[-1]
    newcomer = await w.account("Nora", email="ｎｅｗ.ｐｅｒｓｏｎ@example.ch")
    assert (await w.c.get("/v1/organizations", headers=w.h(newcomer))).json() == []
    r = await w.c.post("/v1/invitations/accept", json={"token": created.token}, headers=w.h(newcomer))
    assert (r.status_code, r.json()["id"]) == (200, str(org))
