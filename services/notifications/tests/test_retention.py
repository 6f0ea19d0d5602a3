"""X-06: the delivery log keeps finished messages for its retention and every
message still to send for good; the outbox/inbox rules come with the runtime.
SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from manager_shared.db import migrate
from notifications.main import MIGRATIONS, create_app
from notifications.models import DEAD, FAILED, PENDING, SENT, Message

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
async def app(request, settings_for, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres").create_database("ntf")
    application = create_app(settings_for(url))
    await migrate(application.state.runtime.db, MIGRATIONS)
    yield application
    await application.state.runtime.db.dispose()


def _message(status: str, age: timedelta) -> Message:
    at = NOW - age
    return Message(event_id=uuid.uuid4(), event_type="LoginFromNewLocation", recipient=uuid.uuid4().hex,
                   address="a@example.ch", template="login_from_new_location", language="de", subject="s",
                   body_text="b", status=status, created_at=at, next_attempt_at=at,
                   sent_at=at if status == SENT else None)


async def test_x_06_delivery_log_retention_keeps_what_is_still_to_send(app):
    runtime = app.state.runtime
    assert [r.name for r in runtime.retention.rules] == ["outbox", "processed_event", "ended_session", "message"]
    year = timedelta(days=366)
    rows = {"old_sent": _message(SENT, year), "old_dead": _message(DEAD, year),
            "old_pending": _message(PENDING, year), "old_retrying": _message(FAILED, year),
            "recent_sent": _message(SENT, timedelta(days=30))}
    async with runtime.db.transaction() as s:
        s.add_all(rows.values())
    purged = await runtime.retention.purge(NOW)
    assert purged["message"] == 2
    async with runtime.db.transaction() as s:
        left = set((await s.execute(sa.select(Message.recipient))).scalars())
    assert left == {rows[k].recipient for k in ("old_pending", "old_retrying", "recent_sent")}
