"""Second factors (IDN-14) and the second step of sign-in.

Every kind of factor (TOTP here; WebAuthn, SMS, push in their own modules)
is a `FactorKind` registered with `TwoFactorService`: the service lists,
renames and removes methods of every kind, issues the emergency codes with the
first one, publishes TwoFactorEnabled/Disabled with the current count (for
organizations' 2FA policy, ORG-11), and runs the throttled second step of
sign-in, dispatching the proof to the kind it names. Enrolment and removal
need a recent sign-in (IDN-19). The second-step `mfa_token` works once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.db import Database, insert_if_absent
from manager_shared.errors import DomainError, NotFound, Unauthorized
from manager_shared.events import EmergencyCodeUsed, TwoFactorDisabled, TwoFactorEnabled

from . import repository as repo
from . import throttle, totp
from .location import Location
from .models import Account, ConsumedToken, EmergencyCode
from .schemas import MfaChallenge, MfaStep, TokenPair, TwoFactorMethodRead
from .service import IdentityService
from .tokens import hash_token

RECENT_SIGN_IN_SECONDS = 300


class RecentSignInRequired(DomainError):
    code, status, message = "reauthentication_required", 403, "Confirm your password first (re-authenticate)."


class InvalidSecondFactor(Unauthorized):
    code, message = "invalid_second_factor", "The code is not valid."


class InvalidCode(DomainError):
    code, status, message = "invalid_code", 422, "The code is not valid."


class MfaTokenInvalid(Unauthorized):
    code, message = "mfa_token_invalid", "Sign in again."


class MethodNotFound(NotFound):
    code, message = "method_not_found", "No such second factor."


class FactorKind:
    """One kind of second factor. `model` is its table: it must have id,
    account_id, name, created_at, confirmed_at (None while enrolment is pending)."""

    kind: ClassVar[str]
    model: ClassVar[Any]
    service: TwoFactorService

    async def verify(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                     where: Location) -> bool:
        """Check the proof in `step` for the second step of sign-in. Runs in
        the transaction that opens the session: record replay state here."""
        raise NotImplementedError


@dataclass
class TwoFactorService:
    identity: IdentityService
    kinds: dict[str, FactorKind] = field(default_factory=dict)
    # Called in the same transaction when 2FA goes off (app passwords are revoked).
    on_turned_off: list[Callable[[AsyncSession, uuid.UUID], Awaitable[None]]] = field(default_factory=list)

    def register(self, kind: FactorKind) -> FactorKind:
        kind.service = self
        self.kinds[kind.kind] = kind
        return kind

    @property
    def clock(self):
        return self.identity.clock

    def require_recent(self, who: Principal) -> None:
        """IDN-19: adding or removing a factor needs a sign-in in the last 5 minutes."""
        if not who.signed_in_within(RECENT_SIGN_IN_SECONDS, now=self.clock.now().timestamp()):
            raise RecentSignInRequired()

    # -- methods of every kind -------------------------------------------------

    async def confirmed(self, session: AsyncSession, account_id: uuid.UUID) -> list[tuple[FactorKind, Any]]:
        found = []
        for kind in self.kinds.values():
            rows = (await session.execute(select(kind.model).where(
                kind.model.account_id == account_id, kind.model.confirmed_at.is_not(None)))).scalars()
            found.extend((kind, row) for row in rows)
        return found

    async def methods(self, session: AsyncSession, account_id: uuid.UUID) -> list[TwoFactorMethodRead]:
        rows = await self.confirmed(session, account_id)
        return sorted((TwoFactorMethodRead(id=m.id, kind=k.kind, name=m.name, created_at=m.created_at)
                       for k, m in rows), key=lambda m: (m.created_at, str(m.id)))

    async def count(self, session: AsyncSession, account_id: uuid.UUID) -> int:
        return len(await self.confirmed(session, account_id))

    async def find(self, session: AsyncSession, account_id: uuid.UUID, method_id: uuid.UUID,
                   kind: str | None = None) -> tuple[FactorKind, Any]:
        """A method of the account by id (any kind, or only `kind`); 404 otherwise."""
        for k in self.kinds.values():
            if kind is not None and k.kind != kind:
                continue
            row = await session.get(k.model, method_id)
            if row is not None and row.account_id == account_id:
                return k, row
        raise MethodNotFound()

    async def rename(self, session: AsyncSession, who: Principal, method_id: uuid.UUID,
                     name: str) -> TwoFactorMethodRead:
        kind, row = await self.find(session, who.account_id, method_id)
        if row.confirmed_at is None:
            raise MethodNotFound()
        row.name = name
        self.identity.log_activity(session, who.account_id, "two_factor_renamed", None, self.clock.now())
        return TwoFactorMethodRead(id=row.id, kind=kind.kind, name=row.name, created_at=row.created_at)

    async def enable(self, session: AsyncSession, account_id: uuid.UUID, kind: FactorKind, row: Any) -> list[str] | None:
        """Mark a pending method confirmed. The first factor also issues the
        emergency codes, returned here and never again."""
        before = await self.count(session, account_id)
        row.confirmed_at = self.clock.now()
        codes = await self._new_codes(session, account_id) if before == 0 else None
        await self._publish(session, account_id, TwoFactorEnabled, kind.kind, before + 1)
        return codes

    async def remove(self, session: AsyncSession, who: Principal, method_id: uuid.UUID,
                     kind: str | None = None) -> None:
        """Remove a method (recent sign-in needed); with the last one, 2FA is
        off and the emergency codes go too."""
        self.require_recent(who)
        factor, row = await self.find(session, who.account_id, method_id, kind)
        confirmed = row.confirmed_at is not None
        await session.delete(row)
        await session.flush()
        if confirmed:
            left = await self.count(session, who.account_id)
            if left == 0:
                await self._turned_off(session, who.account_id)
            await self._publish(session, who.account_id, TwoFactorDisabled, factor.kind, left)

    async def reset_all(self, session: AsyncSession, account_id: uuid.UUID) -> int:
        """Support's 2FA reset (IDN-16/17): every method and code goes at once."""
        removed = 0
        for kind in self.kinds.values():
            result = await session.execute(sa.delete(kind.model).where(kind.model.account_id == account_id))
            removed += result.rowcount or 0
        await self._turned_off(session, account_id)
        await self._publish(session, account_id, TwoFactorDisabled, "all", 0, by_support=True)
        return removed

    # -- emergency codes ---------------------------------------------------------

    async def regenerate_codes(self, session: AsyncSession, who: Principal) -> list[str]:
        """A new set of emergency codes; the old set stops working."""
        self.require_recent(who)
        if not await self.count(session, who.account_id):
            raise DomainError("Turn on two-factor authentication first.", code="two_factor_off", status=409)
        return await self._new_codes(session, who.account_id)

    async def _turned_off(self, session: AsyncSession, account_id: uuid.UUID) -> None:
        await self._drop_codes(session, account_id)
        for hook in self.on_turned_off:
            await hook(session, account_id)

    async def _drop_codes(self, session: AsyncSession, account_id: uuid.UUID) -> None:
        await session.execute(sa.delete(EmergencyCode).where(EmergencyCode.account_id == account_id))

    async def _new_codes(self, session: AsyncSession, account_id: uuid.UUID) -> list[str]:
        await self._drop_codes(session, account_id)
        codes = totp.new_emergency_codes()
        session.add_all(EmergencyCode(account_id=account_id, code_hash=hash_token(totp.normalize_emergency(c)))
                        for c in codes)
        return codes

    async def _publish(self, session: AsyncSession, account_id: uuid.UUID, event_type, method: str, methods: int,
                       **extra) -> None:
        account = await repo.account_by_id(session, account_id)
        now = self.clock.now()
        account.version, account.updated_at, account.second_factors = account.version + 1, now, methods
        self.identity.log_activity(session, account.id, "two_factor_enabled" if event_type is TwoFactorEnabled
                                   else "two_factor_disabled", None, now)
        await self.identity.outbox.record(session, event_type(
            account_id=account.id, account_version=account.version, method=method, methods=methods,
            changed_at=now, occurred_at=now, **extra))

    # -- the second step of sign-in -----------------------------------------------

    async def challenge_if_needed(self, session: AsyncSession, account: Account,
                                  persistent: bool) -> MfaChallenge | None:
        if not account.second_factors:
            return None
        account_id = account.id
        kinds = sorted({k.kind for k, _ in await self.confirmed(session, account_id)})
        if not kinds:
            return None
        token = self.identity.tokens.mfa_token(account_id=str(account_id), persistent=persistent,
                                               now=self.clock.now())
        return MfaChallenge(mfa_token=token, methods=[*kinds, "emergency_code"])

    async def read_claims(self, session: AsyncSession, mfa_token: str) -> dict:
        """The claims of a valid, unexpired, not yet used second-step token."""
        claims = self.identity.tokens.read_mfa_token(mfa_token, self.clock.now())
        if claims is None or not claims.get("jti"):
            raise MfaTokenInvalid()
        if await session.get(ConsumedToken, claims["jti"]) is not None:
            raise MfaTokenInvalid()
        return claims

    async def complete_sign_in(self, db: Database, step: MfaStep, where: Location) -> TokenPair:
        """Second step of sign-in: the proof of the method `step` names (or an
        emergency code: each once, the owner is told). Throttled like the
        first step; the mfa_token works once."""
        ident = self.identity
        async with db.transaction() as session:
            claims = await self.read_claims(session, step.mfa_token)
        account_id = uuid.UUID(claims["sub"])
        keys = (f"mfa:{account_id}", throttle.ip_key(where.ip))
        async with db.transaction() as session:
            attempt = await ident.count_attempt(session, keys)  # IDN-04: counted before the proof is checked
            amr = await self.check_factor(session, account_id, step, claims, where)
            if amr is not None:
                await ident.release_attempt(session, attempt)
                return await self.finish_sign_in(session, claims, amr, where)
        raise InvalidSecondFactor()  # the attempt stays counted

    async def finish_sign_in(self, session: AsyncSession, claims: dict, amr: str, where: Location) -> TokenPair:
        """Open the session once the second factor is proven; spends the mfa_token
        (of two concurrent finishes, the second is refused and rolls back)."""
        ident, now = self.identity, self.clock.now()
        if not await insert_if_absent(session, ConsumedToken.__table__, {
                "jti": claims["jti"], "expires_at": datetime.fromtimestamp(claims["exp"], timezone.utc)}):
            raise MfaTokenInvalid()  # spent by a concurrent request: this one's transaction rolls back
        account = await repo.account_by_id(session, uuid.UUID(claims["sub"]))
        await ident.note_location(session, account, where, now)
        ident.log_activity(session, account.id, "sign_in", where, now)
        return await ident.open_session(session, account, where, bool(claims.get("persistent")), now,
                                        amr=f"pwd {amr}")

    async def check_factor(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                            where: Location) -> str | None:
        if step.emergency_code or step.method == "emergency_code":
            return "emergency" if await self._use_emergency_code(session, account_id, step.emergency_code or "",
                                                                  where) else None
        kind = self.kinds.get(step.method or "totp")
        if kind is None:
            return None
        return AMR.get(kind.kind, kind.kind) if await kind.verify(session, account_id, step, claims, where) else None

    async def _use_emergency_code(self, session: AsyncSession, account_id: uuid.UUID, code: str,
                                  where: Location) -> bool:
        now = self.clock.now()
        digest = hash_token(totp.normalize_emergency(code))
        row = (await session.execute(select(EmergencyCode).where(
            EmergencyCode.account_id == account_id, EmergencyCode.code_hash == digest,
            EmergencyCode.used_at.is_(None)).with_for_update())).scalar_one_or_none()
        if row is None:
            return False
        row.used_at = now
        # (autoflush: the count already sees this code as used)
        remaining = (await session.execute(select(sa.func.count()).select_from(EmergencyCode).where(
            EmergencyCode.account_id == account_id, EmergencyCode.used_at.is_(None)))).scalar_one()
        account = await repo.account_by_id(session, account_id)
        await self.identity.outbox.record(session, EmergencyCodeUsed(
            account_id=account_id, account_version=account.version, remaining=remaining, ip=where.ip,
            country=where.country, device=where.device, used_at=now, occurred_at=now))
        return True


# RFC 8176 authentication method reference values for the `amr` claim.
AMR = {"totp": "otp", "sms": "sms", "webauthn": "hwk", "push": "swk"}
