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


async def test_org_05_registered_domain_is_announced_as_a_product(app):
    import sqlalchemy as sa

    from domains.models import outbox_table
    from manager_shared.events import parse_event

    org, owner = uuid.uuid4(), uuid.uuid4()
    await feed(app, OrganizationCreated(organization_id=org, name="Muster", kind="private", created_by=owner,
                                        currency="CHF"))
    async with app.state.runtime.db.transaction() as s:
        domain = await app.state.domains.register_domain(s, org, "Muster.CH.", datetime.now(timezone.utc))
    async with app.state.runtime.db.transaction() as s:
        events = [parse_event(p) for p in (await s.execute(sa.select(outbox_table.c.payload))).scalars()]
    assert [(e.type, e.product_id, e.organization_id, e.kind, e.name) for e in events] == [
        ("ProductProvisioned", domain.id, org, "domain", "muster.ch")]


async def test_org_10_local_access_check_sees_locks_without_calling_organizations(app):
    from manager_shared.events import MemberRightsChanged, ProductAdded, ProductGrant, ProductLocked

    org, owner, helper, product = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(app,
               MemberAdded(organization_id=org, account_id=owner, role="legal_representative", org_version=1),
               MemberAdded(organization_id=org, account_id=helper, role="collaborator", org_version=2),
               ProductAdded(organization_id=org, product_id=product, kind="domain", category="domains",
                            name="muster.ch", org_version=3),
               MemberRightsChanged(organization_id=org, account_id=helper, category_grants=[], full_access=False,
                                   accounting=False, changed_by=owner, org_version=4,
                                   grants=[ProductGrant(product_id=product, rights=["use", "manage"])]))
    access = app.state.runtime.access
    async with app.state.runtime.db.transaction() as s:
        assert (await access.check(s, helper, org, "manage", product)).allowed
    await feed(app, ProductLocked(organization_id=org, product_id=product, product_name="muster.ch", kind="domain",
                                  locked_by=owner, locked_by_name=None, organization_name="Muster", recipients=[],
                                  org_version=5))
    async with app.state.runtime.db.transaction() as s:
        assert (await access.check(s, helper, org, "manage", product)).code == "product_locked"
        assert (await access.check(s, owner, org, "manage", product)).allowed


async def test_org_11_two_factor_policy_refuses_members_without_it_here_too(app):
    from manager_shared.events import MemberTwoFactorStatusChanged, TwoFactorPolicyChanged

    tokens = TestTokens().trust_in(app)
    org, owner, helper = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(app,
               OrganizationCreated(organization_id=org, name="Muster", kind="company", created_by=owner,
                                   currency="CHF", org_version=1),
               MemberAdded(organization_id=org, account_id=owner, role="legal_representative", org_version=2,
                           two_factor_enabled=True),
               MemberAdded(organization_id=org, account_id=helper, role="collaborator", org_version=3),
               TwoFactorPolicyChanged(organization_id=org, required=True, changed_by=owner, organization_name="Muster",
                                      members_without_two_factor=[], org_version=4))
    url = f"/v1/organizations/{org}/domains"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://domains") as c:
        assert (await c.get(url, headers=tokens.headers(owner))).status_code == 200
        r = await c.get(url, headers=tokens.headers(helper))
        assert (r.status_code, r.json()["code"]) == (403, "two_factor_required")
        await feed(app, MemberTwoFactorStatusChanged(organization_id=org, account_id=helper, two_factor_enabled=True,
                                                     org_version=5))
        assert (await c.get(url, headers=tokens.headers(helper))).status_code == 200
