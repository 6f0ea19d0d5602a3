"""Second factors (IDN-14): TOTP authenticator apps and emergency codes, and
the second step of sign-in. Enrolment and removal need a recent sign-in
(IDN-19)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import DomainError, NotFound, Unauthorized
from manager_shared.events import EmergencyCodeUsed, TwoFactorDisabled, TwoFactorEnabled

from . import repository as repo
from . import throttle, totp
from .location import Location
from .models import EmergencyCode, TotpMethod
from .schemas import MfaChallenge, TokenPair, TotpEnrolment, TwoFactorMethodRead
from .service import IdentityService
from .tokens import hash_token

RECENT_SIGN_IN_SECONDS = 300


class RecentSignInRequired(DomainError):
    code, status, message = "reauthentication_required", 403, "Confirm your password first (re-authenticate)."


class InvalidSecondFactor(Unauthorized):
    code, message = "invalid_second_factor", "The code is not valid."


class InvalidCode(DomainError):
    code, status, message = "invalid_code", 422, "The code is not valid."


@dataclass
class TwoFactorService:
    identity: IdentityService

    def _require_recent(self, who: Principal) -> None:
        if not who.signed_in_within(RECENT_SIGN_IN_SECONDS, now=self.identity.clock.now().timestamp()):
            raise RecentSignInRequired()

    async def methods(self, session: AsyncSession, account_id: uuid.UUID) -> list[TwoFactorMethodRead]:
        rows = (await session.execute(select(TotpMethod).where(
            TotpMethod.account_id == account_id, TotpMethod.confirmed_at.is_not(None)))).scalars()
        return [TwoFactorMethodRead(id=m.id, kind="totp", name=m.name, created_at=m.created_at) for m in rows]

    async def start_totp(self, session: AsyncSession, who: Principal, name: str) -> TotpEnrolment:
        """Step 1 of enrolment: a new secret, shown once as URI and QR code."""
        self._require_recent(who)
        account = await repo.account_by_id(session, who.account_id)
        secret = totp.new_secret()
        method = TotpMethod(account_id=account.id, name=name, secret=secret, created_at=self.identity.clock.now())
        session.add(method)
        uri = totp.provisioning_uri(secret, account.email)
        return TotpEnrolment(id=method.id, secret=secret, provisioning_uri=uri, qr_svg=totp.qr_svg(uri))

    async def confirm_totp(self, session: AsyncSession, who: Principal, method_id: uuid.UUID,
                           code: str) -> list[str] | None:
        """Step 2: a code from the app proves it is set up. The first factor
        also issues the emergency codes, returned here and never again."""
        self._require_recent(who)
        method = await session.get(TotpMethod, method_id)
        if method is None or method.account_id != who.account_id or method.confirmed_at is not None:
            raise NotFound("No such pending authenticator.", code="method_not_found")
        now = self.identity.clock.now()
        step = totp.matching_step(method.secret, code, now, method.last_step)
        if step is None:
            raise InvalidCode()
        before = len(await self.methods(session, who.account_id))
        method.confirmed_at, method.last_step = now, step
        codes = await self._new_codes(session, who.account_id) if before == 0 else None
        await self._publish(session, who.account_id, TwoFactorEnabled, before + 1)
        return codes

    async def remove_totp(self, session: AsyncSession, who: Principal, method_id: uuid.UUID) -> None:
        self._require_recent(who)
        method = await session.get(TotpMethod, method_id)
        if method is None or method.account_id != who.account_id:
            raise NotFound("No such authenticator.", code="method_not_found")
        confirmed = method.confirmed_at is not None
        await session.delete(method)
        if confirmed:
            left = len(await self.methods(session, who.account_id))
            if left == 0:  # 2FA is off: the backup codes go too
                await session.execute(sa.delete(EmergencyCode).where(EmergencyCode.account_id == who.account_id))
            await self._publish(session, who.account_id, TwoFactorDisabled, left)

    async def regenerate_codes(self, session: AsyncSession, who: Principal) -> list[str]:
        """A new set of emergency codes; the old set stops working."""
        self._require_recent(who)
        if not await self.methods(session, who.account_id):
            raise DomainError("Turn on two-factor authentication first.", code="two_factor_off", status=409)
        return await self._new_codes(session, who.account_id)

    async def _new_codes(self, session: AsyncSession, account_id: uuid.UUID) -> list[str]:
        await session.execute(sa.delete(EmergencyCode).where(EmergencyCode.account_id == account_id))
        codes = totp.new_emergency_codes()
        session.add_all(EmergencyCode(account_id=account_id, code_hash=hash_token(totp.normalize_emergency(c)))
                        for c in codes)
        return codes

    async def _publish(self, session: AsyncSession, account_id: uuid.UUID, event_type, methods: int) -> None:
        account = await repo.account_by_id(session, account_id)
        now = self.identity.clock.now()
        account.version, account.updated_at = account.version + 1, now
        self.identity._log(session, account.id, "two_factor_enabled" if event_type is TwoFactorEnabled
                           else "two_factor_disabled", None, now)
        await self.identity.outbox.record(session, event_type(
            account_id=account.id, account_version=account.version, method="totp", methods=methods,
            changed_at=now, occurred_at=now))

    async def complete_sign_in(self, db: Database, mfa_token: str, code: str | None, emergency_code: str | None,
                               where: Location) -> TokenPair:
        """Second step of sign-in: a TOTP code (each time step once) or an
        emergency code (each once, the owner is told). Throttled like the first."""
        ident = self.identity
        claims = ident.tokens.read_mfa_token(mfa_token, ident.clock.now())
        if claims is None:
            raise Unauthorized("Sign in again.", code="mfa_token_invalid")
        account_id = uuid.UUID(claims["sub"])
        keys = (f"mfa:{account_id}", throttle.ip_key(where.ip))
        async with db.transaction() as session:
            await ident._refuse_if_throttled(session, keys)
        async with db.transaction() as session:
            amr = await self._check_factor(session, account_id, code, emergency_code, where)
            if amr is not None:
                account = await repo.account_by_id(session, account_id)
                now = ident.clock.now()
                await ident._note_location(session, account, where, now)
                ident._log(session, account.id, "sign_in", where, now)
                return await ident._open_session(session, account, where, bool(claims.get("persistent")), now,
                                                 amr=f"pwd {amr}")
        async with db.transaction() as session:
            await ident._record_failure(session, keys, None, where)
        raise InvalidSecondFactor()

    async def _check_factor(self, session: AsyncSession, account_id: uuid.UUID, code: str | None,
                            emergency_code: str | None, where: Location) -> str | None:
        now = self.identity.clock.now()
        if code:
            methods = (await session.execute(select(TotpMethod).where(
                TotpMethod.account_id == account_id, TotpMethod.confirmed_at.is_not(None)).with_for_update())).scalars()
            for method in methods:
                step = totp.matching_step(method.secret, code.strip(), now, method.last_step)
                if step is not None:
                    method.last_step = step  # the replay record, in the session's transaction
                    return "otp"
            return None
        if emergency_code:
            digest = hash_token(totp.normalize_emergency(emergency_code))
            row = (await session.execute(select(EmergencyCode).where(
                EmergencyCode.account_id == account_id, EmergencyCode.code_hash == digest,
                EmergencyCode.used_at.is_(None)).with_for_update())).scalar_one_or_none()
            if row is None:
                return None
            row.used_at = now
            # (autoflush: the count already sees this code as used)
            remaining = (await session.execute(select(sa.func.count()).select_from(EmergencyCode).where(
                EmergencyCode.account_id == account_id, EmergencyCode.used_at.is_(None)))).scalar_one()
            account = await repo.account_by_id(session, account_id)
            await self.identity.outbox.record(session, EmergencyCodeUsed(
                account_id=account_id, account_version=account.version, remaining=remaining, ip=where.ip,
                country=where.country, device=where.device, used_at=now, occurred_at=now))
            return "emergency"
        return None

    async def challenge_if_needed(self, session: AsyncSession, account_id: uuid.UUID,
                                  persistent: bool) -> MfaChallenge | None:
        if not await self.methods(session, account_id):
            return None
        token = self.identity.tokens.mfa_token(account_id=str(account_id), persistent=persistent,
                                               now=self.identity.clock.now())
        return MfaChallenge(mfa_token=token, methods=["totp", "emergency_code"])
