"""X-02: notifications' projection of an organization's members ends the same
whatever order organizations' events arrive in (each field only takes a newer
org_version), so "every member" and role rules stay right after an early,
late or replayed event. On SQLite and PostgreSQL (migrated databases)."""
from __future__ import annotations

import itertools
import uuid

import pytest
import sqlalchemy as sa

from manager_shared.db import migrate
from manager_shared.events import (MemberAdded, MemberRemoved, MemberRoleChanged, MemberTwoFactorStatusChanged,
                                   Recipient)
from notifications import repository as repo
from notifications.main import MIGRATIONS, create_app
from notifications.models import OrganizationMember

pytestmark = pytest.mark.integration

ORG, OWNER = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(params=["sqlite", "postgresql"])
async def state(request, settings_for, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres").create_database("ntforder")
    app = create_app(settings_for(url))
    await migrate(app.state.runtime.db, MIGRATIONS)
    yield app.state
    await app.state.runtime.db.dispose()


def _history(account: uuid.UUID) -> list:
    who = Recipient(account_id=account)
    return [
        MemberAdded(organization_id=ORG, account_id=account, role="external", two_factor_enabled=False,
                    org_version=4),
        MemberRoleChanged(organization_id=ORG, account_id=account, role="administrator", previous_role="external",
                          changed_by=OWNER, organization_name="O", member=who, org_version=5),
        MemberTwoFactorStatusChanged(organization_id=ORG, account_id=account, two_factor_enabled=True,
                                     org_version=6),
    ]


async def _apply(state, events) -> None:
    service = state.notifications
    for event in events:
        async with state.runtime.db.transaction() as session:
            if isinstance(event, (MemberAdded, MemberRoleChanged)):
                await service.remember_member(session, event)
            elif isinstance(event, MemberTwoFactorStatusChanged):
                await service.remember_member_two_factor(session, event)
            else:
                await service.forget_member(session, event)


async def _row(state, account) -> tuple:
    async with state.runtime.db.transaction() as session:
        row = await session.get(OrganizationMember, (ORG, account))
        admins = await repo.member_ids(session, ORG, {"administrator"}, two_factor=True)
        everyone = await repo.member_ids(session, ORG)
        return (row.role, row.two_factor, account in admins, account in everyone)


async def test_x_02_member_rows_converge_in_every_arrival_order(state):
    for order in itertools.permutations(range(3)):
        account = uuid.uuid4()
        history = _history(account)
        await _apply(state, [history[i] for i in order] + history[:1])  # and a late redelivery of the first
        assert await _row(state, account) == ("administrator", True, True, True), order


async def test_x_02_a_removal_ahead_of_the_role_change_keeps_the_member_out(state):
    account = uuid.uuid4()
    added, promoted, _ = _history(account)
    removed = MemberRemoved(organization_id=ORG, account_id=account, reason="removed", removed_by=OWNER,
                            organization_name="O", member=Recipient(account_id=account), org_version=7)
    await _apply(state, [removed, promoted, added])
    async with state.runtime.db.transaction() as session:
        assert account not in await repo.member_ids(session, ORG)
        assert await repo.role_of(session, ORG, account) is None
        count = (await session.execute(sa.select(sa.func.count()).select_from(OrganizationMember)
                                       .where(OrganizationMember.account_id == account))).scalar_one()
    assert count == 1  # one row, marked removed


async def test_x_02_two_factor_first_then_membership(state):
    account = uuid.uuid4()
    added, _, two_factor = _history(account)
    await _apply(state, [two_factor])
    async with state.runtime.db.transaction() as session:
        assert account not in await repo.member_ids(session, ORG)  # not a member yet: only its 2FA is known
    await _apply(state, [added])
    assert await _row(state, account) == ("external", True, False, True)

