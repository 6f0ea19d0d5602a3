"""Fixtures of the catalogue and subscription tests: billing's app on SQLite
and on a real PostgreSQL, a frozen business clock, an organization with its
legal representative."""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import httpx
import pytest

from billing.config import Settings
from billing.main import create_app
from manager_shared.clock import FrozenClock
from manager_shared.events import MemberAdded, OrganizationCreated, ProductProvisioned
from manager_shared.testing.fixtures import feed, recorded as shared_recorded
from manager_shared.testing.tokens import TestTokens


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2023, 1, 1, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def make_app(service_env):
    """`async with make_app(url, clock) as app`: billing with its lifespan run,
    consumers off, the renewal loop off (tests run its passes themselves), and
    the background purge off: it runs on the real date, years after this
    clock's, and would delete what a test just made (tests purge themselves)."""
    @asynccontextmanager
    async def open_app(url: str, clock, **settings):
        defaults = {"renewal_scan_interval_seconds": 0, "retention_interval_seconds": 0}
        app = create_app(Settings(database_url=url, consumers_enabled=False,
                                  **{**defaults, **service_env, **settings}), clock=clock)
        async with app.router.lifespan_context(app):
            yield app
    return open_app


@pytest.fixture
async def app(make_app, database_url, clock):
    async with make_app(database_url, clock) as application:
        yield application


@pytest.fixture
def tokens(app) -> TestTokens:
    return TestTokens().trust_in(app)


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        yield c


async def _new_org(app, currency: str = "CHF") -> tuple[uuid.UUID, uuid.UUID]:
    """An organization (versions 1-2) with its billing account and legal
    representative; returns (organization_id, owner)."""
    org, owner = uuid.uuid4(), uuid.uuid4()
    await feed(app, OrganizationCreated(organization_id=org, name="Muster AG", kind="company", created_by=owner,
                                        currency=currency, org_version=1),
               MemberAdded(organization_id=org, account_id=owner, role="legal_representative", org_version=2))
    return org, owner


async def _provision(app, org: uuid.UUID, kind: str = "domain", name: str = "example.ch") -> uuid.UUID:
    product = uuid.uuid4()
    await feed(app, ProductProvisioned(product_id=product, organization_id=org, kind=kind, name=name))
    return product


async def _recorded(app, event_type: str) -> list[dict]:
    """The events of this type in billing's outbox, as their JSON bodies."""
    return [event.model_dump(mode="json") for event in await shared_recorded(app, event_type)]


@pytest.fixture
def new_org():
    return _new_org


@pytest.fixture
def provision():
    return _provision


@pytest.fixture
def recorded():
    return _recorded
