"""ORG-14 fed by billing's BillingStandingChanged: an organization with a
prepaid balance or an unpaid invoice cannot be deleted, and says which; once
the balance is withdrawn and the invoices paid, it can. Standings apply in
version order: a late or repeated older one never overwrites a newer one."""
from __future__ import annotations

import uuid

from manager_shared.events import BillingAccountOpened, BillingStandingChanged
from manager_shared.testing.fixtures import feed


def standing(org: uuid.UUID, version: int, unpaid: int, balance: int) -> BillingStandingChanged:
    return BillingStandingChanged(organization_id=org, unpaid_invoices=unpaid, prepaid_balance_minor=balance,
                                  currency="CHF", standing_version=version)


async def unmet(world, org, who) -> list[str]:
    r = await world.c.post(f"/v1/organizations/{org}/deletion", json={"confirm": True}, headers=world.h(who))
    assert (r.status_code, r.json()["code"]) == (409, "organization_not_deletable"), r.text
    return r.json()["unmet"]


async def test_org_14_balance_and_unpaid_invoices_refuse_deletion_until_settled(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    await feed(world.app, BillingAccountOpened(organization_id=org, billing_account_id=uuid.uuid4(), currency="CHF"))
    await feed(world.app, standing(org, 1, 0, 5_000), standing(org, 2, 1, 5_000))
    assert await unmet(world, org, anna) == ["unpaid_invoices", "prepaid_balance_not_zero"]
    # the invoice is paid from the balance: one unpaid invoice less, less money
    await feed(world.app, standing(org, 3, 0, 1_000))
    assert await unmet(world, org, anna) == ["prepaid_balance_not_zero"]
    # an older standing arriving late (or re-sent) changes nothing
    assert await feed(world.app, standing(org, 2, 1, 5_000)) == ["processed"]
    assert await unmet(world, org, anna) == ["prepaid_balance_not_zero"]
    # the rest is withdrawn (BIL-10)
    await feed(world.app, standing(org, 4, 0, 0))
    r = await world.c.post(f"/v1/organizations/{org}/deletion", json={"confirm": True}, headers=world.h(anna))
    assert r.status_code == 204, r.text


async def test_org_14_a_newer_standing_first_wins_over_the_older_one(world):
    anna = await world.account("Anna")
    org = await world.company(anna)
    # the standing may even come before BillingAccountOpened is applied
    await feed(world.app, standing(org, 2, 0, 0), standing(org, 1, 2, 700),
               BillingAccountOpened(organization_id=org, billing_account_id=uuid.uuid4(), currency="CHF"))
    r = await world.c.post(f"/v1/organizations/{org}/deletion", json={"confirm": True}, headers=world.h(anna))
    assert r.status_code == 204, r.text


async def test_org_14_standing_on_postgresql(pg_world):
    world = pg_world
    anna = await world.account("Anna")
    org = await world.company(anna)
    await feed(world.app, BillingAccountOpened(organization_id=org, billing_account_id=uuid.uuid4(), currency="CHF"),
               standing(org, 1, 1, 250))
    assert await unmet(world, org, anna) == ["unpaid_invoices", "prepaid_balance_not_zero"]
    await feed(world.app, standing(org, 2, 0, 0))
    r = await world.c.post(f"/v1/organizations/{org}/deletion", json={"confirm": True}, headers=world.h(anna))
    assert r.status_code == 204, r.text
