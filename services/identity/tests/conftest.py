from __future__ import annotations

import pytest

from identity.config import Settings
from identity.main import MIGRATIONS
from identity.models import outbox_table
from identity.passwords import Passwords
from identity.service import IdentityService
from identity.tokens import TokenIssuer, generate_private_pem
from manager_shared.clock import FrozenClock
from manager_shared.db import Database, migrate
from manager_shared.outbox import Outbox


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    """The service-level tests run on both databases: SQLite (the embedded
    default) and PostgreSQL (production), a real server either way."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/identity.db"
    else:
        url = request.getfixturevalue("postgres").create_database("identity")
    database = Database(url)
    await migrate(database, MIGRATIONS)
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
