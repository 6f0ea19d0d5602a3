"""X-06 / IDN-16: the one-time codes identity sends (password reset by
e-mail, SMS, login e-mail change) are in none of identity's tables in clear,
on SQLite and PostgreSQL: the outbox holds them sealed to notifications' key,
and erases even that once the rows are published."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from manager_shared.events import parse_event
from manager_shared.sealing import SealingError
from manager_shared.testing.fixtures import recorded
from manager_shared.testing.sealing import opened

SIGNUP = {"email": "lea@example.ch", "password": "Gletscher-Seilbahn-Engadin-9", "first_name": "Lea",
          "last_name": "Keller", "language": "de", "time_zone": "Europe/Zurich"}
CODE_EVENTS = ("PasswordResetRequested", "SmsCodeRequested", "LoginEmailChangeRequested")


async def _ask_for_every_code(client) -> list[str]:
    await client.post("/v1/accounts", json=SIGNUP)
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.post("/v1/password-reset", json={"email": SIGNUP["email"]})).status_code == 202
    assert (await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+41791234567"})).status_code == 201
    r = await client.post("/v1/me/email", headers=auth, json={"current_password": SIGNUP["password"],
                                                               "new_email": "lea.k@example.org",
                                                               "new_email_repeat": "lea.k@example.org"})
    assert r.status_code == 202, r.text
    sent = [e for e in await recorded(client) if e.type in CODE_EVENTS]
    assert sorted(e.type for e in sent) == sorted(CODE_EVENTS)
    return [e.code for e in sent]


async def dump(db) -> list[str]:
    """Every text value of every table of the database."""
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        values = []
        for name in names:
            for row in (await conn.execute(sa.text(f'SELECT * FROM "{name}"'))).all():
                values += [str(v) for v in row if isinstance(v, (str, bytes))]
    return values


def in_clear(codes: list[str], values: list[str]) -> list[str]:
    found = [c for c in codes if any(re.search(rf"(?<![0-9]){c}(?![0-9])", v) for v in values)]
    return found


async def test_x_06_codes_are_in_no_table_in_clear_and_erased_once_published(client):
    codes = await _ask_for_every_code(client)
    runtime = client._transport.app.state.runtime
    values = await dump(runtime.db)
    assert in_clear(codes, values) == []
    table = runtime.outbox.table
    async with runtime.db.transaction() as session:
        payloads = (await session.execute(sa.select(table.c.payload).where(table.c.type.in_(CODE_EVENTS)))).scalars()
        assert all(set(json.loads(p)["code"]) == {"kid", "ct"} for p in payloads)
        # the relay published them an hour and a bit ago
        await session.execute(table.update().values(published_at=datetime.now(timezone.utc) - timedelta(hours=2)))
    assert await runtime.eraser.erase_once() == len(CODE_EVENTS)
    assert await runtime.eraser.erase_once() == 0  # once is enough; a second replica finds nothing
    async with runtime.db.transaction() as session:
        rows = (await session.execute(sa.select(table.c.type, table.c.payload))).all()
    kept = [parse_event(p) for t, p in rows if t in CODE_EVENTS]
    assert [e.code.ct for e in kept] == ["", "", ""]  # still parseable, nothing left to open
    with pytest.raises(SealingError, match="erased"):
        opened(kept[0])
    assert len(rows) > len(kept)  # the other events are untouched
