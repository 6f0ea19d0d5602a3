"""X-06: identity's retention rules on SQLite and PostgreSQL: ended sessions
and their refresh tokens, expired codes and spent mfa_tokens, idle throttle
rows and old activity go; a live session's tokens, a throttle row still
locking or counting, and pending codes stay."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from identity.config import Settings
from identity.models import (Account, Activity, ConsumedToken, OneTimeChallenge, RefreshToken, SigninThrottle,
                             SignInSession)
from identity.retention import register
from manager_shared.retention import Retention

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _session(account_id, *, expires, revoked=None) -> SignInSession:
    return SignInSession(account_id=account_id, auth_time=expires - 30 * DAY, ip="195.186.1.1", device="Firefox",
                         created_at=expires - 30 * DAY, expires_at=expires, revoked_at=revoked)


def _token(session: SignInSession, *, expires, used=None) -> RefreshToken:
    return RefreshToken(session_id=session.id, token_hash=uuid.uuid4().hex, created_at=expires - 30 * DAY,
                        expires_at=expires, used_at=used)


def _challenge(account_id, *, expires, used=None) -> OneTimeChallenge:
    return OneTimeChallenge(account_id=account_id, purpose="sms_sign_in", created_at=expires - timedelta(minutes=5),
                            expires_at=expires, used_at=used)


async def _keys(db, model) -> set:
    key = list(model.__table__.primary_key.columns)[0]
    async with db.transaction() as s:
        return set((await s.execute(sa.select(key))).scalars())


async def test_x_06_identity_purges_what_no_one_needs(db):
    account = Account(email="r@example.ch", email_normalized="r@example.ch", password_hash="x", first_name="R",
                      last_name="S", language="de", time_zone="Europe/Zurich", created_at=NOW - 400 * DAY,
                      updated_at=NOW - 400 * DAY)
    async with db.transaction() as s:
        s.add(account)
        await s.flush()
        live = _session(account.id, expires=NOW + 10 * DAY)
        ended_long_ago = _session(account.id, expires=NOW + 10 * DAY, revoked=NOW - 31 * DAY)
        ended_lately = _session(account.id, expires=NOW + 10 * DAY, revoked=NOW - DAY)
        expired_long_ago = _session(account.id, expires=NOW - 31 * DAY)
        s.add_all([live, ended_long_ago, ended_lately, expired_long_ago])
        await s.flush()
        spent_of_live = _token(live, expires=NOW + 10 * DAY, used=NOW - 20 * DAY)  # its replay must still end it
        current_of_live = _token(live, expires=NOW + 10 * DAY)
        long_expired_of_live = _token(live, expires=NOW - 31 * DAY, used=NOW - 60 * DAY)
        of_ended = _token(ended_long_ago, expires=NOW + 10 * DAY)
        of_lately = _token(ended_lately, expires=NOW + 10 * DAY)
        of_expired = _token(expired_long_ago, expires=NOW - 31 * DAY)
        s.add_all([spent_of_live, current_of_live, long_expired_of_live, of_ended, of_lately, of_expired])
        s.add_all([
            SigninThrottle(key="idle", consecutive=7, hour_start=NOW - 3 * DAY, in_hour=7),
            SigninThrottle(key="locked", consecutive=99, hour_start=NOW - 3 * DAY, in_hour=100,
                           locked_until=NOW + timedelta(minutes=10)),
            SigninThrottle(key="this-hour", consecutive=2, hour_start=NOW - timedelta(minutes=30), in_hour=2),
            SigninThrottle(key="in-flight", consecutive=1, hour_start=NOW - 3 * DAY, in_hour=1, pending=1,
                           pending_since=NOW - timedelta(seconds=2)),
            ConsumedToken(jti="spent-long-ago", expires_at=NOW - 8 * DAY),
            ConsumedToken(jti="spent-lately", expires_at=NOW - timedelta(hours=1)),
            Activity(account_id=account.id, kind="sign_in", at=NOW - 400 * DAY),
            Activity(account_id=account.id, kind="sign_in", at=NOW - DAY),
        ])
        old_code = _challenge(account.id, expires=NOW - 8 * DAY, used=NOW - 8 * DAY)
        pending_code = _challenge(account.id, expires=NOW + timedelta(minutes=3))
        s.add_all([old_code, pending_code])
    retention = Retention(db, "identity-test")
    register(retention, Settings())
    purged = await retention.purge(NOW)

    assert purged == {"refresh_token": 3, "signin_session": 2, "one_time_challenge": 1, "consumed_token": 1,
                      "signin_throttle": 1, "activity": 1}
    assert await _keys(db, SignInSession) == {live.id, ended_lately.id}
    assert await _keys(db, RefreshToken) == {spent_of_live.id, current_of_live.id, of_lately.id}
    assert await _keys(db, SigninThrottle) == {"locked", "this-hour", "in-flight"}
    assert await _keys(db, ConsumedToken) == {"spent-lately"}
    assert await _keys(db, OneTimeChallenge) == {pending_code.id}
    async with db.transaction() as s:
        assert [a.at for a in (await s.execute(sa.select(Activity))).scalars()] == [NOW - DAY]
    assert set((await retention.purge(NOW)).values()) == {0}
