from __future__ import annotations

import asyncio
import shutil
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from identity.config import Settings
from identity.main import MIGRATIONS, create_app
from identity.models import outbox_table
from identity.passwords import Passwords
from identity.service import IdentityService
from identity.tokens import TokenIssuer, generate_private_pem
from manager_shared.clock import FrozenClock
from manager_shared.db import Database, migrate
from manager_shared.outbox import Outbox


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Tests that take it run on both databases: SQLite (the embedded
    default) and PostgreSQL (production), a real server either way."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/identity.db"
    return request.getfixturevalue("postgres").create_database("identity")


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await migrate(database, MIGRATIONS)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """identity's schema on SQLite, migrated once per test session: unit
    tests of one module copy it instead of running every migration again."""
    path = tmp_path_factory.mktemp("identity-schema") / "template.db"

    async def build():
        database = Database(f"sqlite+aiosqlite:///{path}")
        await migrate(database, MIGRATIONS)
        await database.dispose()
    asyncio.run(build())
    return path


@pytest.fixture
async def sqlite_db(migrated_sqlite, tmp_path):
    """A fresh copy of the migrated SQLite schema for one test."""
    shutil.copy(migrated_sqlite, tmp_path / "identity.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/identity.db")
    yield database
    await database.dispose()


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def service(clock):
    settings = Settings(argon2_memory_kib=19456, argon2_time_cost=2)
    svc = IdentityService(settings=settings, passwords=Passwords(), outbox=Outbox(outbox_table), clock=clock)
    svc.tokens = TokenIssuer(generate_private_pem(), issuer="manager-identity", audience="manager", ttl_seconds=600)
    return svc


@pytest.fixture
def frozen():
    """A test clock 90 minutes in the past: access tokens are also checked
    against the real clock (iat not in the future), so tests may move it
    forward by less than that, with access tokens living long enough."""
    return FrozenClock(datetime.now(timezone.utc) - timedelta(minutes=90))


@pytest.fixture
def make_client(service_env):
    """`async with make_client(url, clock, **settings) as c`: identity's app
    (lifespan run, consumers off) behind an httpx client."""
    @asynccontextmanager
    async def open_client(url: str, clock=None, **settings):
        app = create_app(Settings(database_url=url, consumers_enabled=False, access_token_ttl_seconds=3 * 3600,
                                  **{**service_env, **settings}), clock=clock)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as c:
                yield c
    return open_client


@pytest.fixture
async def client(make_client, database_url, frozen):
    """identity over HTTP on both databases, with the frozen clock."""
    async with make_client(database_url, frozen) as c:
        yield c
