"""A small world for organizations' tests: accounts fed as identity's events,
organizations and members made through the HTTP API."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
import pytest
import sqlalchemy as sa

from manager_shared.clock import Clock
from manager_shared.events import (AccountRegistered, ProductProvisioned, TwoFactorDisabled, TwoFactorEnabled,
                                   parse_event)
from manager_shared.testing.fixtures import feed
from manager_shared.testing.sealing import opened
from manager_shared.testing.tokens import TestTokens
from organizations.config import Settings
from organizations.main import create_app
from organizations.models import outbox_table


class World:
    def __init__(self, app, client: httpx.AsyncClient) -> None:
        self.app, self.c = app, client
        self.tokens = TestTokens().trust_in(app)
        self.versions: dict[uuid.UUID, int] = {}

    def h(self, account_id: uuid.UUID, **kw) -> dict[str, str]:
        return self.tokens.headers(account_id, **kw)

    async def account(self, first: str = "Anna", *, email: str | None = None, two_factor: bool = False,
                      invited: bool = False) -> uuid.UUID:
        account_id = uuid.uuid4()
        self.versions[account_id] = 1
        await feed(self.app, AccountRegistered(
            account_id=account_id, account_version=1, email=email or f"{first.lower()}.{account_id.hex[:6]}@example.ch",
            first_name=first, last_name="Muster", language="de", time_zone="Europe/Zurich"))
        if two_factor:
            await self.two_factor(account_id, 1)
        return account_id

    async def two_factor(self, account_id: uuid.UUID, methods: int) -> None:
        self.versions[account_id] += 1
        cls = TwoFactorEnabled if methods else TwoFactorDisabled
        extra = {"method": "totp"} if methods else {"method": "all"}
        await feed(self.app, cls(account_id=account_id, account_version=self.versions[account_id], methods=methods,
                                 changed_at=datetime.now(timezone.utc), **extra))

    async def company(self, owner: uuid.UUID, name: str = "Muster AG") -> uuid.UUID:
        r = await self.c.post("/v1/organizations", json={"name": name, "kind": "company"}, headers=self.h(owner))
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["id"])

    async def invite(self, org: uuid.UUID, by: uuid.UUID, email: str, role: str, **extra) -> httpx.Response:
        return await self.c.post(f"/v1/organizations/{org}/invitations", headers=self.h(by),
                                 json={"email": email, "role": role, **extra})

    async def last_token(self, email: str) -> str:
        invites = [e for e in await self.events("InvitationCreated") if e.email == email.lower()]
        return invites[-1].token

    async def join(self, org: uuid.UUID, by: uuid.UUID, role: str, first: str = "Ben", *,
                   two_factor: bool = False, **extra) -> uuid.UUID:
        email = f"{first.lower()}.{uuid.uuid4().hex[:6]}@example.ch"
        account = await self.account(first, email=email, two_factor=two_factor)
        r = await self.invite(org, by, email, role, **extra)
        assert r.status_code == 201, r.text
        r = await self.c.post("/v1/invitations/accept", json={"token": await self.last_token(email)},
                              headers=self.h(account))
        assert r.status_code == 200, r.text
        return account

    async def product(self, org: uuid.UUID, kind: str = "domain", name: str | None = None) -> uuid.UUID:
        product_id = uuid.uuid4()
        await feed(self.app, ProductProvisioned(product_id=product_id, organization_id=org, kind=kind,
                                                name=name or f"{kind}-{product_id.hex[:6]}.ch"))
        return product_id

    async def access(self, org: uuid.UUID, account: uuid.UUID, action: str, product: uuid.UUID | None = None,
                     channel: str = "web") -> str:
        params = {"action": action, "channel": channel, **({"product_id": str(product)} if product else {})}
        r = await self.c.get(f"/v1/organizations/{org}/access", params=params, headers=self.h(account))
        assert r.status_code == 200, r.text
        return r.json()["code"]

    async def events(self, type_: str | None = None) -> list:
        async with self.app.state.runtime.db.transaction() as s:
            rows = (await s.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars().all()
        events = [opened(parse_event(p)) for p in rows]  # invitation tokens are sealed
        return [e for e in events if type_ is None or e.type == type_]


def make_app(database_url: str, service_env: dict, **settings):
    return create_app(Settings(database_url=database_url, consumers_enabled=False, **service_env, **settings))


class SettableClock(Clock):
    def __init__(self) -> None:
        self.at = datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def world(tmp_path, service_env):
    clock = SettableClock()
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/org.db", consumers_enabled=False,
                              **service_env), clock=clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://org") as client:
            w = World(app, client)
            w.clock = clock
            yield w


@pytest.fixture
async def pg_world(postgres, service_env):
    app = make_app(postgres.create_database("organizations"), service_env)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://org") as client:
            yield World(app, client)
