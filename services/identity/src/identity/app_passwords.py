"""Application passwords (IDN-15): one random password per sync client
(IMAP, CalDAV, WebDAV), created only while 2FA is on, named, listed and
revoked by the owner. A sync server checks `login + app password` here; it
never gets a Manager session or token. Turning 2FA off revokes them all,
as they exist only because the account password alone no longer suffices.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import DomainError, Forbidden, NotFound, Unauthorized
from manager_shared.events import AppPasswordCreated, AppPasswordRevoked
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from . import throttle
from .addresses import normalize_email
from .location import Location
from .models import AppPassword
from .tokens import hash_token
from .two_factor import TwoFactorService

# 20 characters from 31 unambiguous ones (no i, l, o, 0, 1): 99 bits, typed
# in groups of five. High entropy is why a fast SHA-256 is enough to store them.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_PER_ACCOUNT = 50


class TwoFactorRequired(DomainError):
    code, status, message = "two_factor_required", 409, "Turn on two-factor authentication first."


class InvalidAppPassword(Unauthorized):
    # The same for an unknown login, a wrong or revoked password, a blocked account.
    code, message = "invalid_credentials", "Login or application password not valid."


class UnknownSyncClient(Forbidden):
    code, message = "sync_client_unknown", "This sync server is not trusted."


def new_app_password() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


def normalize_app_password(value: str) -> str:
    """Clients show it with dashes or spaces, users type it in any case."""
    return "".join(ch for ch in value.lower() if ch.isalnum())


@dataclass
class AppPasswords:
    two_factor: TwoFactorService

    @property
    def identity(self):
        return self.two_factor.identity

    async def create(self, session: AsyncSession, who: Principal, name: str) -> tuple[AppPassword, str]:
        """A new app password, returned in clear this once (recent sign-in needed)."""
        self.two_factor.require_recent(who)
        if not await self.two_factor.count(session, who.account_id):
            raise TwoFactorRequired()
        active = await self.list(session, who.account_id)
        if len(active) >= MAX_PER_ACCOUNT:
            raise DomainError("Revoke an unused application password first.", code="too_many_app_passwords",
                              status=409)
        password, now = new_app_password(), self.identity.clock.now()
        row = AppPassword(account_id=who.account_id, name=name, created_at=now,
                          secret_hash=hash_token(normalize_app_password(password)))
        session.add(row)
        account = await repo.account_by_id(session, who.account_id)
        self.identity.log_activity(session, who.account_id, "app_password_created", None, now)
        await self.identity.outbox.record(session, AppPasswordCreated(
            account_id=who.account_id, account_version=account.version, app_password_id=row.id, name=name,
            created_at=now, occurred_at=now))
        return row, password

    async def list(self, session: AsyncSession, account_id: uuid.UUID) -> list[AppPassword]:
        return list((await session.execute(select(AppPassword).where(
            AppPassword.account_id == account_id, AppPassword.revoked_at.is_(None)).order_by(
            AppPassword.created_at))).scalars())

    async def revoke(self, session: AsyncSession, who: Principal, app_password_id: uuid.UUID) -> None:
        row = await session.get(AppPassword, app_password_id)
        if row is None or row.account_id != who.account_id or row.revoked_at is not None:
            raise NotFound("No such application password.", code="app_password_not_found")
        await self._revoke(session, row)

    async def revoke_all(self, session: AsyncSession, account_id: uuid.UUID) -> None:
        for row in await self.list(session, account_id):
            await self._revoke(session, row)

    async def _revoke(self, session: AsyncSession, row: AppPassword) -> None:
        now = self.identity.clock.now()
        row.revoked_at = now
        account = await repo.account_by_id(session, row.account_id)
        self.identity.log_activity(session, row.account_id, "app_password_revoked", None, now)
        await self.identity.outbox.record(session, AppPasswordRevoked(
            account_id=row.account_id, account_version=account.version, app_password_id=row.id, revoked_at=now,
            occurred_at=now))

    def check_client(self, presented_key: str | None) -> None:
        """Only sync servers holding a configured key may check passwords."""
        allowed = [h.strip().lower() for h in self.identity.settings.sync_client_key_hashes.split(",") if h.strip()]
        digest = hashlib.sha256((presented_key or "").encode()).hexdigest()
        if not presented_key or not any(hmac.compare_digest(digest, h) for h in allowed):
            raise UnknownSyncClient()

    async def verify(self, db: Database, login: str, password: str, where: Location) -> tuple[uuid.UUID, str]:
        """The sync server's check: (account id, app password id) or 401.
        Throttled per login and per source like sign-in (IDN-04); no session."""
        ident, normalized = self.identity, normalize_email(login)
        keys = (f"app:{throttle.email_key(normalized)}"[:64], throttle.ip_key(where.ip))
        digest = hash_token(normalize_app_password(password))
        async with db.transaction() as session:
            attempt = await ident.count_attempt(session, keys)  # IDN-04: counted before the check
            account = await repo.account_by_email(session, normalized)
            row = None
            if account is not None and account.status == "active":
                row = (await session.execute(select(AppPassword).where(
                    AppPassword.account_id == account.id, AppPassword.secret_hash == digest,
                    AppPassword.revoked_at.is_(None)))).scalar_one_or_none()
            if row is not None:
                now = ident.clock.now()
                if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 3600:
                    row.last_used_at = now  # hourly, not a write per IMAP login
                await ident.release_attempt(session, attempt)
                BUSINESS_EVENTS.labels("identity", "app_password", "accepted").inc()
                return account.id, row.id
        # the failure stays counted; no LoginFailed mail for sync clients: a stale
        # password in a phone's mail app would send one every window (the activity
        # list shows them)
        BUSINESS_EVENTS.labels("identity", "app_password", "refused").inc()
        raise InvalidAppPassword()
