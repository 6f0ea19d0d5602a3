"""Support-side rules (IDN-16..18): support codes the user reads out, and
blocking an account. Support staff never see a password or a code in clear."""
from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.errors import DomainError, Forbidden, NotFound
from manager_shared.events import AccountBlocked, AccountUnblocked
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from .addresses import normalize_email
from .models import Account, OneTimeChallenge
from .service import IdentityService
from .tokens import hash_token

if TYPE_CHECKING:
    from .two_factor import TwoFactorService

SUPPORT_SCOPE = "support"
VERIFIED = "support_verified"


class SupportCodeInvalid(NotFound):
    # The same for an unknown e-mail, a wrong code and an expired one.
    code, message = "support_code_invalid", "No account matches this e-mail and support code."


class VerificationRequired(DomainError):
    code, status = "support_verification_required", 409
    message = "Verify the caller's support code first (valid for a short time, once)."


@dataclass
class SupportService:
    identity: IdentityService
    two_factor: TwoFactorService | None = None

    @staticmethod
    def require_staff(who: Principal) -> None:
        if SUPPORT_SCOPE not in who.scopes:
            raise Forbidden("Support staff only.", code="support_only")

    async def new_support_code(self, session: AsyncSession, account_id: uuid.UUID) -> tuple[str, datetime]:
        """IDN-17: a fresh 8-digit code (the previous one stops working)."""
        account = await repo.account_by_id(session, account_id)
        if account is None:
            raise NotFound()
        code = f"{secrets.randbelow(10**8):08d}"
        expires = self.identity.clock.now() + timedelta(seconds=self.identity.settings.support_code_ttl_seconds)
        account.support_code_hash, account.support_code_expires_at = hash_token(code), expires
        return f"{code[:4]} {code[4:]}", expires

    async def verify_code(self, session: AsyncSession, who: Principal, email: str, code: str) -> Account:
        """Support checks the code the caller read out; single use."""
        self.require_staff(who)
        account = await repo.account_by_email(session, normalize_email(email))
        digest = hash_token(code.replace(" ", ""))
        now = self.identity.clock.now()
        valid = (account is not None and account.support_code_hash is not None
                 and account.support_code_expires_at is not None and account.support_code_expires_at > now
                 and hmac.compare_digest(account.support_code_hash, digest))
        if not valid:
            BUSINESS_EVENTS.labels("identity", "support_code", "refused").inc()
            raise SupportCodeInvalid()
        account.support_code_hash = account.support_code_expires_at = None
        # The proof opens a short window for actions on this account (2FA reset).
        ttl = timedelta(seconds=self.identity.settings.support_verification_ttl_seconds)
        session.add(OneTimeChallenge(account_id=account.id, purpose=VERIFIED, bound_to=str(who.account_id),
                                     created_at=now, expires_at=now + ttl))
        self.identity.log_activity(session, account.id, "support_code_verified", None, now)
        return account

    async def reset_two_factor(self, session: AsyncSession, who: Principal, account_id: uuid.UUID,
                               reason: str) -> int:
        """IDN-16: support can remove every second factor, but only for an
        account whose holder just proved identity with the support code to
        this staff member (IDN-17); the proof works once. Staff never see
        a secret: the owner enrols again after signing in with the password."""
        self.require_staff(who)
        now = self.identity.clock.now()
        proof = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.account_id == account_id, OneTimeChallenge.purpose == VERIFIED,
            OneTimeChallenge.bound_to == str(who.account_id), OneTimeChallenge.used_at.is_(None),
            OneTimeChallenge.expires_at > now).with_for_update())).scalars().first()
        if proof is None:
            raise VerificationRequired()
        proof.used_at = now
        removed = await self.two_factor.reset_all(session, account_id)
        self.identity.log_activity(session, account_id, "two_factor_reset_by_support", None, now)
        BUSINESS_EVENTS.labels("identity", "support_2fa_reset", "done").inc()
        return removed

    async def set_blocked(self, session: AsyncSession, who: Principal, account_id: uuid.UUID, blocked: bool,
                          reason: str) -> Account:
        """IDN-18: block (every session ends now; every service refuses the
        account's tokens once it consumes AccountBlocked) or unblock."""
        self.require_staff(who)
        account = await repo.account_by_id(session, account_id)
        if account is None:
            raise NotFound("Account not found.", code="account_not_found")
        if (account.status == "blocked") == blocked:
            return account
        now = self.identity.clock.now()
        account.status, account.version, account.updated_at = ("blocked" if blocked else "active"), \
            account.version + 1, now
        self.identity.log_activity(session, account.id, "blocked" if blocked else "unblocked", None, now)
        if blocked:
            await self.identity.end_sessions(session, account.id, "blocked")
            event = AccountBlocked(account_id=account.id, account_version=account.version, reason=reason,
                                   blocked_at=now, occurred_at=now)
        else:
            event = AccountUnblocked(account_id=account.id, account_version=account.version, unblocked_at=now,
                                     occurred_at=now)
        await self.identity.outbox.record(session, event)
        BUSINESS_EVENTS.labels("identity", "block" if blocked else "unblock", "done").inc()
        return account
