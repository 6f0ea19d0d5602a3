"""X-02 / ORG-09: an organization's events that arrive out of order (two
relays, a failed send retried after a later one landed, a replay) still end
in the same access state: an event ahead of an earlier version is held and
applied once the gap is filled, never dropped."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from manager_shared.access import Memberships, OrgAccessStore, membership_table, org_access_table
from manager_shared.access_check import AccessProjection, OrgAccess, decide
from manager_shared.db import Database
from manager_shared.events import (MemberAdded, MemberRemoved, MemberRightsChanged, MemberRoleChanged,
                                   OrganizationCreated, ProductAdded, ProductGrant, Recipient)

ORG, OWNER, ANNA = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
SITE = uuid.uuid4()


def _history() -> list:
    """Versions 1..7 as organizations numbers them."""
    return [
        OrganizationCreated(organization_id=ORG, name="O", kind="company", created_by=OWNER, currency="CHF",
                            org_version=1),
        MemberAdded(organization_id=ORG, account_id=OWNER, role="legal_representative", org_version=2),
        ProductAdded(organization_id=ORG, product_id=SITE, kind="domain", category="domains", name="a.ch",
                     org_version=3),
        MemberAdded(organization_id=ORG, account_id=ANNA, role="external", org_version=4),
        MemberRoleChanged(organization_id=ORG, account_id=ANNA, role="collaborator", previous_role="external",
                          changed_by=OWNER, org_version=5, organization_name="O", member=Recipient(account_id=ANNA)),
        MemberRightsChanged(organization_id=ORG, account_id=ANNA, changed_by=OWNER, full_access=False,
                            accounting=False, grants=[ProductGrant(product_id=SITE, rights=["use", "manage"])], category_grants=[],
                            org_version=6),
        MemberRoleChanged(organization_id=ORG, account_id=ANNA, role="administrator", previous_role="collaborator",
                          changed_by=OWNER, org_version=7, organization_name="O", member=Recipient(account_id=ANNA)),
    ]


def _in_order() -> OrgAccess:
    org = OrgAccess(ORG)
    for event in _history():
        org.apply(event)
    return org


def test_x_02_role_change_before_its_member_added_is_applied_once_the_gap_fills():
    history = _history()
    added, promoted = history[3], history[4]  # MemberAdded (version 4), MemberRoleChanged (version 5)
    org = OrgAccess(ORG)
    for event in history[:3]:
        org.apply(event)
    assert org.apply(promoted)  # version 5 before 4: held, not dropped
    assert decide(org, ANNA, "view").code == "not_member"  # nothing applied out of order
    assert org.missing_version() == 4
    assert not org.apply(promoted)  # the same early event again: no second copy
    assert org.apply(added)
    assert decide(org, ANNA, "view").allowed  # 4 then 5: a collaborator
    assert org.members[ANNA].role == "collaborator"
    assert org.version == 5 and not org.pending


def test_x_02_every_arrival_order_ends_in_the_same_state():
    expected = _in_order().to_doc()
    rng = random.Random(9)
    for _ in range(200):
        events = _history()
        rng.shuffle(events)
        events += rng.sample(events, 3)  # and a few redeliveries
        org = OrgAccess(ORG)
        for event in events:
            org.apply(event)
        assert org.to_doc() == expected


def test_x_02_held_events_survive_the_stored_document():
    org = OrgAccess(ORG)
    history = _history()
    for event in history[:3] + history[4:]:  # version 4 missing
        org.apply(event)
    copy = OrgAccess.from_doc(ORG, org.to_doc())
    assert sorted(copy.pending) == [5, 6, 7] and copy.version == 3
    copy.apply(history[3])
    assert copy.to_doc() == _in_order().to_doc()


def test_x_02_in_memory_projection_holds_early_events_too():
    projection = AccessProjection()
    history = _history()
    for event in reversed(history):
        projection.apply(event)
    assert projection.check(ANNA, ORG, "administer").allowed
    assert projection.organizations[ORG].to_doc() == _in_order().to_doc()


def test_x_02_a_removed_member_stays_removed_whatever_the_order():
    history = _history()
    removed = MemberRemoved(organization_id=ORG, account_id=ANNA, reason="removed", removed_by=OWNER, org_version=8,
                            organization_name="O", member=Recipient(account_id=ANNA))
    org = OrgAccess(ORG)
    for event in [removed, *reversed(history)]:
        org.apply(event)
    assert decide(org, ANNA, "view").code == "not_member" and org.version == 8


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path}/order.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres").create_database("order"))
    metadata = sa.MetaData()
    table = org_access_table(metadata)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db, OrgAccessStore(table)
    await db.dispose()


@pytest.mark.integration
async def test_x_02_stored_projection_applies_version_6_after_5_arrives(store):
    db, access = store
    history = _history()
    for event in history[:4] + [history[5], history[6], history[4]]:  # 6 and 7 before 5, each its own transaction
        async with db.transaction() as session:
            await access.apply(session, event)
        if event is history[5]:  # the rights of version 6 wait for version 5
            async with db.transaction() as session:
                assert (await access.check(session, ANNA, ORG, "use", SITE)).code == "right_missing"
    async with db.transaction() as session:
        assert (await access.check(session, ANNA, ORG, "administer")).allowed
        org = await access.load(session, ORG)
    assert org.to_doc() == _in_order().to_doc()


@pytest.mark.integration
async def test_x_02_a_gap_that_stays_open_is_reported(store):
    db, access = store
    history = _history()
    for event in history[:3] + history[4:]:  # version 4 never arrives
        async with db.transaction() as session:
            await access.apply(session, event)
    async with db.transaction() as session:
        assert await access.open_gaps(session) == [(ORG, 4, 3)]
        await access.apply(session, history[3])
    async with db.transaction() as session:
        assert await access.open_gaps(session) == []


@pytest.fixture(params=["sqlite", "postgresql"])
async def memberships(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path}/members.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres").create_database("members"))
    metadata = sa.MetaData()
    table = membership_table(metadata)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db, Memberships(table)
    await db.dispose()


@pytest.mark.integration
async def test_x_02_memberships_follow_org_version_not_arrival_or_clocks(memberships):
    """Version 5 stamped a little earlier than version 4 (two organizations
    replicas, clocks apart) and arriving first: the role of version 5 stays."""
    db, members = memberships
    history = _history()
    added, promoted = history[3], history[4]
    promoted = promoted.model_copy(update={"occurred_at": added.occurred_at - timedelta(seconds=1)})
    for event in (promoted, added):
        async with db.transaction() as session:
            await members.apply(session, event)
    async with db.transaction() as session:
        assert await members.role_of(session, ORG, ANNA) == "collaborator"
