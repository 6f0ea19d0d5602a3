"""identity's business rules. Records events in the outbox; never commits
(the caller's unit of work does)."""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import get_args

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.clock import Clock
from manager_shared.db import Database, insert_if_absent
from manager_shared.errors import NotFound, SessionIsEnded
from manager_shared.events import (AccountPreferencesChanged, AccountRegistered, LoginFailed, LoginFromNewLocation,
                                   PasswordChanged, RecoveryPhoneChanged, SignUpAttemptedWithExistingEmail)
from manager_shared.events.identity import OptionalAlert
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from . import attempts, phones, session_end, throttle
from .addresses import display_email, normalize_email  # noqa: F401  (imported from here by others)
from . import repository as repo
from .config import Settings
from .errors import (AccountBlocked, InvalidCredentials, InvalidRefreshToken, TooManyAttempts,
                     WeakPassword, WrongPassword)
from .location import Location
from .models import Account, Activity, KnownLocation, RefreshToken, SignInSession, SigninThrottle
from .password_policy import check_password
from .passwords import Passwords
from .schemas import (AccountCreate, ActivityPage, ActivityRead, MfaChallenge, Preferences, PreferencesUpdate,
                      SessionRead, TokenPair)
from .tokens import TokenIssuer, hash_token, new_refresh_token


@dataclass
class IdentityService:
    settings: Settings
    passwords: Passwords
    outbox: Outbox
    clock: Clock
    tokens: TokenIssuer | None = None  # set at start-up, once the signing key is loaded
    # (session, account_id, persistent) -> MfaChallenge | None; wired in main.py (two_factor.py)
    second_factor: Callable[..., Awaitable[MfaChallenge | None]] | None = None

    async def register(self, session: AsyncSession, data: AccountCreate, where: Location) -> Account | None:
        """Create the account (IDN-01). An address already in use gets the
        same answer as a new one (no enumeration); returns None then."""
        # Checked before looking the address up: a weak password is refused
        # the same way whether or not the address has an account.
        check_password(data.password, email=data.email, first_name=data.first_name, last_name=data.last_name)
        normalized = normalize_email(data.email)
        existing = await repo.account_by_email(session, normalized)
        if existing:
            BUSINESS_EVENTS.labels("identity", "register", "existing_email").inc()
            await self.passwords.hash(data.password)  # same work as a real sign-up: no timing difference
            await self._tell_owner_of_signup(session, existing, where)
            return None
        now = self.clock.now()
        account = Account(email=display_email(data.email), email_normalized=normalized,
                          password_hash=await self.passwords.hash(data.password),
                          first_name=data.first_name, last_name=data.last_name, language=data.language,
                          time_zone=data.time_zone, created_at=now, updated_at=now)
        try:
            async with session.begin_nested():  # a concurrent sign-up of the same address loses here
                session.add(account)
                await session.flush()
                # The place of sign-up is the account's first known location.
                session.add(KnownLocation(account_id=account.id, country=where.place_key, device=where.device,
                                          first_seen_at=now, last_seen_at=now))
        except IntegrityError:
            BUSINESS_EVENTS.labels("identity", "register", "existing_email").inc()
            return None
        await self.outbox.record(session, AccountRegistered(
            account_id=account.id, account_version=account.version, email=account.email,
            first_name=account.first_name, last_name=account.last_name, language=account.language,
            time_zone=account.time_zone, occurred_at=now))
        BUSINESS_EVENTS.labels("identity", "register", "created").inc()
        return account

    async def _tell_owner_of_signup(self, session: AsyncSession, account: Account, where: Location) -> None:
        """The owner of a taken address hears of the attempt by mail, at most
        once per alert window; the caller learns nothing."""
        now = self.clock.now()
        last = await repo.last_activity_at(session, account.id, "signup_attempt")
        if last is not None and now - last < timedelta(seconds=self.settings.failed_alert_window_seconds):
            return
        self.log_activity(session, account.id, "signup_attempt", where, now)
        await self.outbox.record(session, SignUpAttemptedWithExistingEmail(
            account_id=account.id, account_version=account.version, ip=where.ip, country=where.country,
            device=where.device, attempted_at=now, occurred_at=now))

    async def sign_in(self, db: Database, email: str, password: str, where: Location,
                      persistent: bool) -> TokenPair | MfaChallenge:
        """Password sign-in (IDN-03) with new-location detection (IDN-07).

        Runs its own two short transactions: the Argon2id check (tens of ms
        of CPU) happens between them, so no database connection or lock is
        held while hashing.
        """
        normalized = normalize_email(email)
        keys = (throttle.email_key(normalized), throttle.ip_key(where.ip))
        attempt = await self.begin_attempt(db, keys)  # IDN-04: counted before the check (attempts.py)
        async with db.transaction() as session:
            account = await repo.account_by_email(session, normalized)
            stored_hash = account.password_hash if account else None
        ok = await self.passwords.verify(stored_hash, password)
        if not account or not ok:
            BUSINESS_EVENTS.labels("identity", "sign_in", "failed").inc()
            async with db.transaction() as session:
                await self.finish_attempt(session, attempt, failed=True, account=account, where=where)
            raise InvalidCredentials()
        new_hash = await self.passwords.hash(password) if self.passwords.needs_rehash(stored_hash) else None
        try:
            return await self._signed_in(db, account.id, stored_hash, new_hash, attempt, where, persistent)
        except (InvalidCredentials, AccountBlocked):
            # The password was right, but the account changed or is blocked:
            # that transaction rolled back, so the pending attempt ends here.
            async with db.transaction() as session:
                await self.finish_attempt(session, attempt, failed=False)
            raise

    async def _signed_in(self, db: Database, account_id: uuid.UUID, stored_hash: str, new_hash: str | None,
                         attempt: attempts.Attempt, where: Location, persistent: bool):
        """The second transaction of a sign-in whose password checked out."""
        async with db.transaction() as session:
            account = await repo.account_by_id(session, account_id)
            if account is None or account.password_hash != stored_hash:
                raise InvalidCredentials()  # changed meanwhile: the checked password may be stale
            if account.status == "blocked":
                raise AccountBlocked()
            if new_hash:
                account.password_hash = new_hash  # parameters were raised since it was stored
            await self.finish_attempt(session, attempt, failed=False, end_streak=True)
            if self.second_factor is not None:
                challenge = await self.second_factor(session, account, persistent)
                if challenge is not None:  # IDN-03: then the second factor (two_factor.py)
                    return challenge
            now = self.clock.now()
            await self.note_location(session, account, where, now)
            self.log_activity(session, account.id, "sign_in", where, now)
            pair = await self.open_session(session, account, where, persistent, now)
        BUSINESS_EVENTS.labels("identity", "sign_in", "succeeded").inc()
        return pair

    def _limits(self, key: str) -> throttle.Limits:
        s = self.settings
        if key.startswith("ip:"):
            return throttle.Limits(s.ip_delay_after, s.ip_lock_after, s.ip_lock_seconds, s.ip_max_failures_per_hour)
        return throttle.Limits(s.account_delay_after, s.account_lock_after, s.account_lock_seconds,
                               s.account_max_failures_per_hour)

    async def begin_attempt(self, db: Database, keys: tuple[str, ...]) -> attempts.Attempt:
        """IDN-04, atomically, for a slow check (Argon2id): in a transaction
        of its own, 429 if a key is locked (counting the attempts still being
        evaluated as failures), else admitted as pending; the secret is then
        evaluated with no lock held and `finish_attempt` records the outcome."""
        async with db.transaction() as session:
            return await attempts.reserve(session, keys, self.clock.now(), self._limits, _tally)

    async def finish_attempt(self, session: AsyncSession, attempt: attempts.Attempt, *, failed: bool,
                             end_streak: bool = False, account: Account | None = None,
                             where: Location | None = None) -> None:
        """The outcome of a `begin_attempt`: a failure counts (and the owner
        of an existing `account` may be told, IDN-08); `end_streak` ends the
        first key's streak on success."""
        now = self.clock.now()
        rows = await attempts.finish(session, attempt, now, self._limits, _tally, failed=failed,
                                     end_streak=end_streak)
        if failed and account is not None:
            await self._alert_failure(session, next(r for r in rows if r.key == attempt.keys[0]), account, where, now)
            self.log_activity(session, account.id, "sign_in_failed", where, now)

    async def count_attempt(self, session: AsyncSession, keys: tuple[str, ...],
                            limits: dict[str, throttle.Limits] | None = None) -> attempts.Attempt:
        """The same in the caller's transaction, for a fast check (a code):
        the rows stay locked until it commits; a failure commits the count, a
        rollback (refused for another reason) undoes it. Call it first in the
        transaction (on SQLite its write takes the lock before any read)."""
        limits_of = (lambda key: limits[key]) if limits else self._limits
        return await attempts.begin(session, keys, self.clock.now(), limits_of, _tally)

    async def release_attempt(self, session: AsyncSession, attempt: attempts.Attempt) -> None:
        """The attempt of `count_attempt` succeeded: its failure is taken back."""
        await attempts.release(session, attempt)

    async def refuse_if_throttled(self, session: AsyncSession, keys: tuple[str, ...]) -> bool:
        """IDN-04: a locked e-mail or address is refused, with the same answer
        whether or not the e-mail has an account. A read only: for steps that
        evaluate no secret (sending a code); those that do use `begin_attempt`.
        Returns whether the first key (the e-mail) has a failure streak."""
        now = self.clock.now()
        rows = await repo.throttles(session, keys)
        wait = max([throttle.retry_after(_tally(row), now) for row in rows], default=0)
        if wait:
            BUSINESS_EVENTS.labels("identity", "sign_in", "throttled").inc()
            raise TooManyAttempts(wait)
        return any(row.key == keys[0] and row.consecutive for row in rows)

    async def record_failure(self, session: AsyncSession, keys: tuple[str, ...], account: Account | None,
                              where: Location) -> None:
        """Count a failure that no attempt was admitted for (a push denied on
        the device), alert the owner (IDN-08) and note it in the activity."""
        now = self.clock.now()
        for row in await attempts.locked_rows(session, keys):
            tally = throttle.after_failure(_tally(row), now, self._limits(row.key))
            row.consecutive, row.hour_start, row.in_hour, row.locked_until = (
                tally.consecutive, tally.hour_start, tally.in_hour, tally.locked_until)
            if account is not None and row.key == keys[0]:
                await self._alert_failure(session, row, account, where, now)
        if account is not None:
            self.log_activity(session, account.id, "sign_in_failed", where, now)

    async def _alert_failure(self, session: AsyncSession, row: SigninThrottle, account: Account,
                             where: Location, now: datetime) -> None:
        """IDN-08: tell the owner, but not once per attempt."""
        window = timedelta(seconds=self.settings.failed_alert_window_seconds)
        if row.alerted_at is not None and now - row.alerted_at < window:
            return
        row.alerted_at = now
        await self.outbox.record(session, LoginFailed(
            account_id=account.id, account_version=account.version, ip=where.ip, country=where.country,
            device=where.device, attempts=row.consecutive, failed_at=now, occurred_at=now))

    async def note_location(self, session: AsyncSession, account: Account, where: Location, now: datetime) -> None:
        known = await repo.known_location(session, account.id, where.place_key, where.device)
        if known:
            if now - known.last_seen_at > timedelta(hours=1):  # no write on every sign-in
                known.last_seen_at = now
            return
        had_any = await repo.has_known_locations(session, account.id)
        # Two first sign-ins from the same new place at once: one row, one alert, no 500.
        if not await insert_if_absent(session, KnownLocation.__table__, dict(
                account_id=account.id, country=where.place_key, device=where.device, first_seen_at=now,
                last_seen_at=now)):
            return
        if had_any:
            await self.outbox.record(session, LoginFromNewLocation(
                account_id=account.id, account_version=account.version, ip=where.ip, country=where.country,
                device=where.device, login_at=now, occurred_at=now))

    async def open_session(self, session: AsyncSession, account: Account, where: Location, persistent: bool,
                            now: datetime, amr: str = "pwd") -> TokenPair:
        ttl = (timedelta(days=self.settings.refresh_token_ttl_days) if persistent
               else timedelta(hours=self.settings.browser_session_ttl_hours))
        signin = SignInSession(account_id=account.id, auth_time=now, amr=amr, persistent=persistent, ip=where.ip,
                               country=where.country, device=where.device, created_at=now, expires_at=now + ttl)
        session.add(signin)
        await session.flush()  # the refresh token references it (no ORM relationship to order inserts)
        return await self._issue(session, account.id, signin, now)

    async def _issue(self, session: AsyncSession, account_id: uuid.UUID, signin: SignInSession,
                     now: datetime) -> TokenPair:
        assert self.tokens is not None, "signing key not loaded"
        token, digest = new_refresh_token()
        session.add(RefreshToken(session_id=signin.id, token_hash=digest, created_at=now,
                                 expires_at=signin.expires_at))
        access = self.tokens.access_token(account_id=str(account_id), session_id=str(signin.id),
                                          auth_time=signin.auth_time, amr=signin.amr.split(), now=now,
                                          scope=await self._scope(session, account_id))
        return TokenPair(access_token=access, expires_in=self.tokens.ttl, refresh_token=token,
                         refresh_expires_at=signin.expires_at, session_id=signin.id)

    async def _scope(self, session: AsyncSession, account_id: uuid.UUID) -> str:
        staff = {scope: {normalize_email(e) for e in emails.split(",") if e.strip()}
                 for scope, emails in (("support", self.settings.support_staff_emails),
                                       ("billing", self.settings.billing_operator_emails))}
        if not any(staff.values()):
            return ""
        account = await repo.account_by_id(session, account_id)
        if account is None:
            return ""
        return " ".join(scope for scope, emails in staff.items() if account.email_normalized in emails)

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent and a new one issued. A spent
        token presented again means it leaked: the whole session is revoked."""
        now = self.clock.now()
        stored = await repo.refresh_token_for_update(session, hash_token(refresh_token))
        if stored is None:
            raise InvalidRefreshToken()
        signin = await session.get(SignInSession, stored.session_id)
        if stored.used_at is not None:
            BUSINESS_EVENTS.labels("identity", "refresh", "reuse_detected").inc()
            raise RefreshTokenReused(stored.session_id)
        if signin is None or signin.revoked_at is not None or stored.expires_at <= now:
            raise InvalidRefreshToken()
        account = await repo.account_by_id(session, signin.account_id)
        if account is None or account.status == "blocked":
            raise InvalidRefreshToken()
        stored.used_at = now
        return await self._issue(session, account.id, signin, now)

    async def confirm_password(self, db: Database, account_id: uuid.UUID, password: str,
                                where: Location) -> Account:
        """The signed-in user re-typed the password (dangerous actions, IDN-19).
        Throttled like sign-in; hashing runs outside any transaction."""
        async with db.transaction() as session:
            account = await repo.account_by_id(session, account_id)
            if account is None:
                raise NotFound()
        keys = (throttle.email_key(account.email_normalized), throttle.ip_key(where.ip))
        attempt = await self.begin_attempt(db, keys)
        ok = await self.passwords.verify(account.password_hash, password)
        async with db.transaction() as session:
            await self.finish_attempt(session, attempt, failed=not ok)
        if not ok:
            raise WrongPassword()
        return account

    async def change_password(self, db: Database, who: Principal, current: str, new: str, where: Location) -> None:
        """IDN-05: needs the current password; every other session ends; the
        owner is told (PasswordChanged)."""
        account = await self.confirm_password(db, who.account_id, current, where)
        check_password(new, email=account.email, first_name=account.first_name, last_name=account.last_name)
        if new == current:
            raise WeakPassword("Choose a password different from the current one.", reason="unchanged")
        new_hash = await self.passwords.hash(new)
        async with db.transaction() as session:
            account = await repo.account_by_id(session, who.account_id)
            now = self.clock.now()
            account.password_hash, account.version, account.updated_at = new_hash, account.version + 1, now
            await self.end_sessions(session, account.id, "password_changed", keep=uuid.UUID(who.session_id))
            self.log_activity(session, account.id, "password_changed", where, now)
            await self.outbox.record(session, PasswordChanged(
                account_id=account.id, account_version=account.version, ip=where.ip, country=where.country,
                device=where.device, changed_at=now, occurred_at=now))
        BUSINESS_EVENTS.labels("identity", "change_password", "done").inc()

    async def set_recovery_phone(self, db: Database, who: Principal, password: str, raw_phone: str | None,
                                 where: Location) -> str | None:
        """IDN-12: set, replace or remove the recovery mobile number (password
        required); stored E.164; the owner is told. Returns the shown hint."""
        e164 = phones.to_e164(raw_phone) if raw_phone else None
        await self.confirm_password(db, who.account_id, password, where)
        async with db.transaction() as session:
            account = await repo.account_by_id(session, who.account_id)
            if account.recovery_phone == e164:
                return phones.hint(e164) if e164 else None
            now = self.clock.now()
            account.recovery_phone, account.version, account.updated_at = e164, account.version + 1, now
            self.log_activity(session, account.id, "recovery_phone_changed", where, now)
            await self.outbox.record(session, RecoveryPhoneChanged(
                account_id=account.id, account_version=account.version, phone_hint=phones.hint(e164) if e164 else None,
                ip=where.ip, country=where.country, device=where.device, changed_at=now, occurred_at=now))
        return phones.hint(e164) if e164 else None

    async def reauthenticate(self, db: Database, who: Principal, password: str, where: Location) -> TokenPair:
        """IDN-19: the re-typed password refreshes `auth_time` of this session;
        other services read it from the new access token, without a call."""
        await self.confirm_password(db, who.account_id, password, where)
        async with db.transaction() as session:
            signin = await session.get(SignInSession, uuid.UUID(who.session_id))
            if signin is None or signin.revoked_at is not None:
                raise SessionIsEnded()
            now = self.clock.now()
            signin.auth_time = now
            return await self._issue(session, who.account_id, signin, now)

    @staticmethod
    def log_activity(session: AsyncSession, account_id: uuid.UUID, kind: str, where: Location | None, at: datetime) -> None:
        session.add(Activity(account_id=account_id, kind=kind, at=at, ip=where.ip if where else None,
                             country=where.country if where else None, device=where.device if where else None))

    async def activity(self, session: AsyncSession, account_id: uuid.UUID, limit: int,
                       before: int | None) -> ActivityPage:
        """IDN-10: recent security activity, newest first, paged by id."""
        items = await repo.activity_of(session, account_id, limit + 1, before)
        page = [ActivityRead.model_validate(a, from_attributes=True) for a in items[:limit]]
        return ActivityPage(items=page, next_before=page[-1].id if len(items) > limit else None)

    def preferences(self, account: Account) -> Preferences:
        disabled = set(filter(None, account.disabled_alerts.split(",")))
        return Preferences(language=account.language, time_zone=account.time_zone,
                           alerts={alert: alert not in disabled for alert in get_args(OptionalAlert)})

    async def update_preferences(self, session: AsyncSession, account_id: uuid.UUID,
                                 change: PreferencesUpdate) -> Preferences:
        """IDN-11 language/time zone, IDN-10 alert choices; published whole so
        notifications uses them for the next message."""
        account = await repo.account_by_id(session, account_id)
        if account is None:
            raise NotFound()
        current = self.preferences(account)
        alerts = {**current.alerts, **(change.alerts or {})}
        new = Preferences(language=change.language or current.language,
                          time_zone=change.time_zone or current.time_zone, alerts=alerts)
        if new == current:
            return current
        account.language, account.time_zone = new.language, new.time_zone
        account.disabled_alerts = ",".join(sorted(a for a, on in alerts.items() if not on))
        account.version += 1
        account.updated_at = self.clock.now()
        self.log_activity(session, account.id, "preferences_changed", None, account.updated_at)
        await self.outbox.record(session, AccountPreferencesChanged(
            account_id=account.id, account_version=account.version, language=new.language,
            time_zone=new.time_zone, disabled_alerts=sorted(a for a, on in alerts.items() if not on)))
        return new

    async def sessions(self, session: AsyncSession, who: Principal) -> list[SessionRead]:
        """The account's open sessions, newest first (IDN-03)."""
        rows = await repo.open_sessions(session, who.account_id, self.clock.now())
        return [SessionRead(id=r.id, created_at=r.created_at, auth_time=r.auth_time, ip=r.ip, country=r.country,
                            device=r.device, persistent=r.persistent, current=str(r.id) == who.session_id)
                for r in rows]

    async def revoke_session(self, session: AsyncSession, who: Principal, session_id: uuid.UUID) -> None:
        """End one of the caller's own sessions; another account's id is simply not found."""
        signin = await session.get(SignInSession, session_id)
        if signin is None or signin.account_id != who.account_id:
            raise NotFound("Session not found.", code="session_not_found")
        await self.end_sessions(session, who.account_id, "revoked", only=session_id)

    async def sign_out(self, session: AsyncSession, session_id: uuid.UUID, reason: str = "signed_out") -> None:
        if (signin := await session.get(SignInSession, session_id)) is not None:
            await self.end_sessions(session, signin.account_id, reason, only=session_id)

    async def end_sessions(self, session: AsyncSession, account_id: uuid.UUID, reason: str, **which) -> None:
        """End sessions and tell every service (session_end.py, ASVS 7.4)."""
        await session_end.end_sessions(self, session, account_id, reason, **which)


class RefreshTokenReused(Exception):
    """Raised (and turned into InvalidRefreshToken by the caller, after it
    revoked the session in a transaction of its own)."""

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__("refresh token reused")
        self.session_id = session_id


def _tally(row: SigninThrottle | None) -> throttle.Tally:
    if row is None:
        return throttle.Tally()
    return throttle.Tally(consecutive=row.consecutive, in_hour=row.in_hour,
                          hour_start=row.hour_start if row.hour_start else None,
                          locked_until=row.locked_until if row.locked_until else None)
