"""IDN-02 / ORG-01: the personal organization comes from AccountRegistered."""
from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from manager_shared.events import AccountRegistered, parse_event
from manager_shared.testing.tokens import TestTokens
from organizations.config import Settings
from organizations.main import create_app
from organizations.models import Membership, Organization, outbox_table


@pytest.fixture
async def app(tmp_path, service_env):
    application = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/org.db",
                                      consumers_enabled=False, **service_env))
    async with application.router.lifespan_context(application):
        yield application


def _registered(account_id=None) -> AccountRegistered:
    return AccountRegistered(account_id=account_id or uuid.uuid4(), account_version=1, email="c@example.de",
                             first_name="Clara", last_name="Schmidt", language="de", time_zone="Europe/Berlin",
                             correlation_id=f"signup-{uuid.uuid4().hex[:8]}")


async def test_idn_02_sign_up_creates_personal_organization_once(app):
    runtime = app.state.runtime
    consumer = runtime.consumers[0][0]
    event = _registered()
    assert await consumer.handle_raw(event.topic, event.to_bytes()) == "processed"
    assert await consumer.handle_raw(event.topic, event.to_bytes()) == "duplicate"
    async with runtime.db.transaction() as s:
        orgs = (await s.execute(sa.select(Organization))).scalars().all()
        members = (await s.execute(sa.select(Membership))).scalars().all()
        published = [parse_event(p) for p in (await s.execute(sa.select(outbox_table.c.payload))).scalars()]
    assert [(o.name, o.kind, o.currency) for o in orgs] == [("Clara Schmidt", "private", "CHF")]
    assert [(m.account_id, m.role) for m in members] == [(event.account_id, "legal_representative")]
    assert [e.type for e in published] == ["OrganizationCreated", "MemberAdded"]
    assert all(e.correlation_id == event.correlation_id for e in published)  # the chain stays traceable


async def test_org_01_members_see_their_organizations_others_get_404(app):
    tokens = TestTokens().trust_in(app)
    consumer = app.state.runtime.consumers[0][0]
    clara, eve = _registered(), _registered()
    for e in (clara, eve):
        await consumer.handle_raw(e.topic, e.to_bytes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://org") as c:
        mine = (await c.get("/v1/organizations", headers=tokens.headers(clara.account_id))).json()
        assert len(mine) == 1 and mine[0]["role"] == "legal_representative"
        org_id = mine[0]["id"]
        assert (await c.get(f"/v1/organizations/{org_id}", headers=tokens.headers(clara.account_id))).status_code == 200
        r = await c.get(f"/v1/organizations/{org_id}", headers=tokens.headers(eve.account_id))
        assert (r.status_code, r.json()["code"]) == (404, "organization_not_found")
        r = await c.get(f"/v1/organizations/{uuid.uuid4()}", headers=tokens.headers(eve.account_id))
        assert (r.status_code, r.json()["code"]) == (404, "organization_not_found")  # same answer: no existence leak
        assert (await c.get("/v1/organizations")).status_code == 401


async def test_idn_18_blocked_account_tokens_are_refused_here_too(app):
    from manager_shared.events import AccountBlocked, AccountUnblocked

    tokens = TestTokens().trust_in(app)
    runtime = app.state.runtime
    accounts, status = runtime.consumers[0][0], runtime.consumers[-1][0]
    clara = _registered()
    await accounts.handle_raw(clara.topic, clara.to_bytes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://org") as c:
        auth = tokens.headers(clara.account_id)
        assert (await c.get("/v1/organizations", headers=auth)).status_code == 200
        blocked = AccountBlocked(account_id=clara.account_id, account_version=2, reason="incident",
                                 blocked_at=clara.occurred_at)
        await status.handle_raw(blocked.topic, blocked.to_bytes())
        r = await c.get("/v1/organizations", headers=auth)  # the token itself is still valid
        assert (r.status_code, r.json()["code"]) == (403, "account_blocked")
        late = AccountUnblocked(account_id=clara.account_id, account_version=1, unblocked_at=clara.occurred_at)
        await status.handle_raw(late.topic, late.to_bytes())  # an older event changes nothing
        assert (await c.get("/v1/organizations", headers=auth)).status_code == 403
        lifted = AccountUnblocked(account_id=clara.account_id, account_version=3, unblocked_at=clara.occurred_at)
        await status.handle_raw(lifted.topic, lifted.to_bytes())
        assert (await c.get("/v1/organizations", headers=auth)).status_code == 200
