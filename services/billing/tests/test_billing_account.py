"""BIL-01: a billing account per organization, from organizations' events."""
from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from billing.config import Settings
from billing.main import create_app
from billing.models import BillingAccount
from manager_shared.events import MemberAdded, OrganizationCreated
from manager_shared.testing.fixtures import feed
from manager_shared.testing.tokens import TestTokens


@pytest.fixture
async def app(tmp_path, service_env):
    application = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/billing.db",
                                      consumers_enabled=False, **service_env))
    async with application.router.lifespan_context(application):
        yield application


async def test_bil_01_billing_account_opened_once_per_organization(app):
    org, owner = uuid.uuid4(), uuid.uuid4()
    created = OrganizationCreated(organization_id=org, name="Muster AG", kind="company", created_by=owner,
                                  country="DE", currency="EUR")
    assert await feed(app, created, created) == ["processed", "duplicate"]
    async with app.state.runtime.db.transaction() as s:
        accounts = (await s.execute(sa.select(BillingAccount))).scalars().all()
    assert [(a.organization_id, a.currency) for a in accounts] == [(org, "EUR")]


async def test_bil_01_only_legal_representatives_and_admins_see_it(app):
    tokens = TestTokens().trust_in(app)
    org, owner, helper, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(app,
                OrganizationCreated(organization_id=org, name="Muster", kind="private", created_by=owner,
                                    currency="CHF"),
                MemberAdded(organization_id=org, account_id=owner, role="legal_representative"),
                MemberAdded(organization_id=org, account_id=helper, role="collaborator"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        url = f"/v1/organizations/{org}/billing-account"
        r = await c.get(url, headers=tokens.headers(owner))
        assert r.status_code == 200 and r.json()["currency"] == "CHF"
        for who in (helper, stranger):
            r = await c.get(url, headers=tokens.headers(who))
            assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")


async def test_org_08_accounting_right_from_the_local_projection(app):
    """A collaborator with the accounting right sees billing; the right ends
    as soon as the event taking it away is consumed (ORG-09, ASVS 8.3.2)."""
    from manager_shared.events import MemberRightsChanged

    tokens = TestTokens().trust_in(app)
    org, owner, helper = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(app,
               OrganizationCreated(organization_id=org, name="Muster", kind="company", created_by=owner,
                                   currency="CHF", org_version=1),
               MemberAdded(organization_id=org, account_id=owner, role="legal_representative", org_version=2),
               MemberAdded(organization_id=org, account_id=helper, role="collaborator", org_version=3),
               MemberRightsChanged(organization_id=org, account_id=helper, grants=[], category_grants=[],
                                   full_access=False, accounting=True, changed_by=owner, org_version=4))
    url = f"/v1/organizations/{org}/billing-account"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        assert (await c.get(url, headers=tokens.headers(helper))).status_code == 200
        await feed(app, MemberRightsChanged(organization_id=org, account_id=helper, grants=[], category_grants=[],
                                            full_access=False, accounting=False, changed_by=owner, org_version=5))
        assert (await c.get(url, headers=tokens.headers(helper))).status_code == 404


async def test_org_12_details_change_sets_currency_of_future_invoices(app):
    from manager_shared.events import OrganizationDetailsChanged, PostalAddress

    org, owner = uuid.uuid4(), uuid.uuid4()
    await feed(app, OrganizationCreated(organization_id=org, name="Muster", kind="company", created_by=owner,
                                        currency="CHF"),
               OrganizationDetailsChanged(organization_id=org, name="Muster GmbH", kind="company", phone=None,
                                          address=PostalAddress(street="A 1", postal_code="10115", city="Berlin",
                                                                country="DE"),
                                          currency="EUR", has_logo=False, billing_addresses=[],
                                          changed_fields=["country", "currency"], changed_by=owner, recipients=[]))
    async with app.state.runtime.db.transaction() as s:
        account = (await s.execute(sa.select(BillingAccount))).scalars().one()
    assert (account.currency, account.organization_name) == ("EUR", "Muster GmbH")


async def test_x_03_billing_account_time_has_an_offset(app):
    """On SQLite (no time zone type) the billing account's created_at says its offset."""
    from manager_shared.testing.times import assert_times_have_offsets

    tokens = TestTokens().trust_in(app)
    org, owner = uuid.uuid4(), uuid.uuid4()
    await feed(app, OrganizationCreated(organization_id=org, name="Muster", kind="private", created_by=owner,
                                        currency="CHF"),
               MemberAdded(organization_id=org, account_id=owner, role="legal_representative"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        r = await c.get(f"/v1/organizations/{org}/billing-account", headers=tokens.headers(owner))
    assert r.status_code == 200
    assert_times_have_offsets(r.json())
