"""IDN-03 / ASVS 7.4 in every service but identity: once SessionsEnded is
consumed, a still-valid access token of an ended session is refused (401
`session_ended`); the account's other sessions keep working; a repeat changes
nothing; rows can be purged once every token of their session has expired.
Each service's own app and migrations, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from manager_shared.events import SessionsEnded
from manager_shared.testing.fixtures import feed
from manager_shared.testing.tokens import TestTokens

SOME_ORG = uuid.uuid4()
# an endpoint of each service behind the bearer token (what it answers otherwise does not matter here)
PROTECTED = {"organizations": "/v1/organizations", "billing": f"/v1/organizations/{SOME_ORG}/billing-account",
             "domains": f"/v1/organizations/{SOME_ORG}/domains", "notifications": "/v1/messages"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request) -> str:
    return request.param


@pytest.fixture(params=sorted(PROTECTED))
async def app(request, db_kind, tmp_path, service_env):
    name = request.param
    url = (f"sqlite+aiosqlite:///{tmp_path}/{name}.db" if db_kind == "sqlite"
           else request.getfixturevalue("postgres").create_database(name))
    config, main = importlib.import_module(f"{name}.config"), importlib.import_module(f"{name}.main")
    application = main.create_app(config.Settings(database_url=url, consumers_enabled=False, **service_env))
    application.state.name = name
    async with application.router.lifespan_context(application):
        yield application


async def test_idn_03_a_consumed_session_end_refuses_that_sid_only(app):
    tokens = TestTokens().trust_in(app)
    account, ended, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    path = PROTECTED[app.state.name]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        async def status(sid: uuid.UUID) -> tuple[int, str | None]:
            r = await c.get(path, headers=tokens.headers(account, sid=str(sid)))
            return r.status_code, r.json().get("code") if isinstance(r.json(), dict) else None

        assert (await status(ended))[0] != 401
        now = datetime.now(timezone.utc)
        event = SessionsEnded(account_id=account, account_version=3, session_ids=[ended], reason="signed_out",
                              ended_at=now, occurred_at=now)
        assert await feed(app, event, event) == ["processed", "duplicate"]
        assert await status(ended) == (401, "session_ended")
        assert (await status(kept))[0] != 401  # the account's other sessions go on

    runtime = app.state.runtime
    async with runtime.db.transaction() as session:  # the retention job's part: nothing younger than a token
        assert await runtime.ended.purge(session, now - timedelta(minutes=10)) == 0
        assert await runtime.ended.purge(session, now + timedelta(seconds=1)) == 1
        assert (await session.execute(sa.select(sa.func.count()).select_from(runtime.ended.table))).scalar() == 0


async def test_idn_03_organizations_access_check_refuses_an_ended_session(tmp_path, service_env):
    """organizations answers its HTTP access check from memory (ORG-09): the
    ended sessions are part of what it polls."""
    from organizations.config import Settings
    from organizations.main import create_app

    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/org.db", consumers_enabled=False,
                              access_refresh_seconds=0.1, **service_env))
    async with app.router.lifespan_context(app):
        tokens = TestTokens().trust_in(app)
        account, sid = uuid.uuid4(), uuid.uuid4()
        auth = tokens.headers(account, sid=str(sid))
        url = f"/v1/organizations/{SOME_ORG}/access?action=view"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://org") as c:
            assert (await c.get(url, headers=auth)).json()["code"] == "not_member"
            now = datetime.now(timezone.utc)
            await feed(app, SessionsEnded(account_id=account, account_version=1, session_ids=[sid],
                                          reason="revoked", ended_at=now, occurred_at=now))
            deadline = time.monotonic() + 10
            while (r := await c.get(url, headers=auth)).status_code != 401 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert (r.status_code, r.json()["code"]) == (401, "session_ended")
