"""Fixtures of the prepaid and payment tests: billing's app on SQLite and on
a real PostgreSQL, a frozen clock, an organization with its legal
representative, and a client that sends Idempotency-Keys."""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import httpx
import pytest

from billing.config import Settings
from billing.main import create_app
from manager_shared.clock import FrozenClock
from manager_shared.events import MemberAdded, OrganizationCreated
from manager_shared.testing.fixtures import feed, recorded
from manager_shared.testing.tokens import TestTokens

SECRET = "test-webhook-secret"


@pytest.fixture
def clock() -> FrozenClock:
    # near the real time: the retention job purges by the real clock
    return FrozenClock(datetime.now(timezone.utc).replace(microsecond=0))


@pytest.fixture
def make_app(service_env):
    @asynccontextmanager
    async def open_app(url: str, clock, **settings):
        app = create_app(Settings(database_url=url, consumers_enabled=False, renewal_scan_interval_seconds=0,
                                  payment_sweep_interval_seconds=0, local_psp_webhook_secret=SECRET,
                                  **{**service_env, **settings}), clock=clock)
        async with app.router.lifespan_context(app):
            yield app
    return open_app


class World:
    """One app, its client, and helpers to make organizations and move money."""

    def __init__(self, app, client: httpx.AsyncClient, clock: FrozenClock) -> None:
        self.app, self.c, self.clock = app, client, clock
        self.tokens = TestTokens().trust_in(app)

    def h(self, account: uuid.UUID, key: str | None = "auto", **kw) -> dict[str, str]:
        headers = self.tokens.headers(account, **kw)
        if key is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex if key == "auto" else key
        return headers

    async def organization(self, currency: str = "CHF") -> tuple[uuid.UUID, uuid.UUID]:
        org, owner = uuid.uuid4(), uuid.uuid4()
        await feed(self.app, OrganizationCreated(organization_id=org, name="Muster AG", kind="company",
                                                 created_by=owner, currency=currency),
                   MemberAdded(organization_id=org, account_id=owner, role="legal_representative"))
        return org, owner

    async def top_up(self, org, who, amount_minor: int, *, token: str = "tok_visa", currency: str = "CHF",
                     key: str | None = "auto") -> httpx.Response:
        return await self.c.post(f"/v1/organizations/{org}/prepaid/top-ups", headers=self.h(who, key),
                                 json={"amount_minor": amount_minor, "currency": currency, "card_token": token})

    async def withdraw(self, org, who, amount_minor: int, *, currency: str = "CHF", key: str | None = "auto",
                       **extra) -> httpx.Response:
        body = {"amount_minor": amount_minor, "currency": currency, "destination": "card", **extra}
        return await self.c.post(f"/v1/organizations/{org}/prepaid/withdrawals", headers=self.h(who, key), json=body)

    async def balance(self, org, who) -> int:
        r = await self.c.get(f"/v1/organizations/{org}/prepaid", headers=self.h(who, None))
        assert r.status_code == 200, r.text
        return r.json()["balance_minor"]

    async def events(self, type_: str | None = None) -> list:
        return await recorded(self.app, type_)


@pytest.fixture
async def world(make_app, database_url, clock):
    async with make_app(database_url, clock) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as client:
            yield World(app, client, clock)


@pytest.fixture
async def sqlite_world(make_app, tmp_path, clock):
    async with make_app(f"sqlite+aiosqlite:///{tmp_path}/billing.db", clock) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as client:
            yield World(app, client, clock)


@pytest.fixture
async def pg_world(make_app, postgres, clock):
    async with make_app(postgres.create_database("billing"), clock) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as client:
            yield World(app, client, clock)
