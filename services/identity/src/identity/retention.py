"""identity's retention rules (X-06): what it keeps only as long as a rule,
a live session or an investigation can need it. The job itself is shared
(`manager_shared.retention`); these say which rows may go."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from manager_shared.retention import Retention

from .config import Settings
from .models import Activity, ConsumedToken, OneTimeChallenge, RefreshToken, SigninThrottle, SignInSession


def register(retention: Retention, settings: Settings) -> None:
    sessions = SignInSession.__table__
    tokens = RefreshToken.__table__
    keep_sessions = timedelta(days=settings.retention_sessions_days)

    def session_ended(now: datetime) -> sa.ColumnElement[bool]:
        # revoked or expired long enough ago: no token of it can work again
        old = now - keep_sessions
        return sa.or_(sessions.c.revoked_at < old, sessions.c.expires_at < old)

    # Refresh tokens before their sessions (foreign key). A spent token of a
    # live session stays: presenting it again must still end the session.
    retention.add(tokens, lambda now: sa.or_(
        tokens.c.expires_at < now - keep_sessions,
        tokens.c.session_id.in_(sa.select(sessions.c.id).where(session_ended(now)))))
    retention.add(sessions, lambda now: sa.and_(session_ended(now), ~sa.exists().where(
        tokens.c.session_id == sessions.c.id)))

    # Codes, challenges and spent mfa_tokens after they expired (plus a
    # margin for the per-hour code budgets, which count recent ones).
    keep_codes = timedelta(days=settings.retention_codes_days)
    challenges, consumed = OneTimeChallenge.__table__, ConsumedToken.__table__
    retention.keep_for(challenges, challenges.c.expires_at, keep_codes)
    retention.keep_for(consumed, consumed.c.expires_at, keep_codes)

    # A throttle row (one per e-mail typed or address) goes once it neither
    # locks, nor counts an hour, nor holds an alert window, nor has attempts
    # in flight, and has been idle that long: only then is its streak forgotten.
    throttles, idle = SigninThrottle.__table__, timedelta(hours=settings.retention_throttle_idle_hours)

    def throttle_idle(now: datetime) -> sa.ColumnElement[bool]:
        t, old = throttles.c, now - idle
        return sa.and_(sa.or_(t.locked_until.is_(None), t.locked_until < now),
                       sa.or_(t.hour_start.is_(None), t.hour_start < old),
                       sa.or_(t.alerted_at.is_(None), t.alerted_at < old),
                       sa.or_(t.pending == 0, t.pending_since.is_(None), t.pending_since < old))
    retention.add(throttles, throttle_idle)

    activity = Activity.__table__
    retention.keep_for(activity, activity.c.at, timedelta(days=settings.retention_activity_days))
