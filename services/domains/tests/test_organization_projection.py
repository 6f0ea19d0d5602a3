"""domains learns organizations and members from events; tenants stay apart."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from domains.config import Settings
from domains.main import create_app
from manager_shared.events import MemberAdded, OrganizationCreated
from manager_shared.testing.fixtures import feed
from manager_shared.testing.tokens import TestTokens


@pytest.fixture
async def app(tmp_path, service_env):
    application = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/domains.db",
                                      consumers_enabled=False, **service_env))
    async with application.router.lifespan_context(application):
        yield application


async def test_dom_01_members_list_their_organization_domains_only(app):
    tokens = TestTokens().trust_in(app)
    org, owner, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [OrganizationCreated(organization_id=org, name="Muster", kind="private", created_by=owner,
                                  currency="CHF"),
              MemberAdded(organization_id=org, account_id=owner, role="legal_representative")]
    assert await feed(app, *events) == ["processed", "processed"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://domains") as c:
        r = await c.get(f"/v1/organizations/{org}/domains", headers=tokens.headers(owner))
        assert (r.status_code, r.json()) == (200, [])
        r = await c.get(f"/v1/organizations/{org}/domains", headers=tokens.headers(other))
        assert (r.status_code, r.json()["code"]) == (404, "organization_not_found")


async def test_org_09_older_membership_event_does_not_roll_back_projection(app):
    org, acct = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    newer = MemberAdded(organization_id=org, account_id=acct, role="administrator", occurred_at=now)
    older = MemberAdded(organization_id=org, account_id=acct, role="external", occurred_at=now - timedelta(minutes=5))
    await feed(app, newer, older)
    service = app.state.domains
    async with app.state.runtime.db.transaction() as s:
        assert await service.members.role_of(s, org, acct) == "administrator"
