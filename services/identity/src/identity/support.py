"""Support-side rules (IDN-16..18): support codes the user reads out, and
blocking an account. Support staff never see a password or a code in clear."""
from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.errors import Forbidden, NotFound
from manager_shared.events import AccountBlocked, AccountUnblocked
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from .models import Account
from .service import IdentityService, _aware, normalize_email
from .tokens import hash_token

SUPPORT_SCOPE = "support"


class SupportCodeInvalid(NotFound):
    # The same for an unknown e-mail, a wrong code and an expired one.
    code, message = "support_code_invalid", "No account matches this e-mail and support code."


@dataclass
class SupportService:
    identity: IdentityService

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
                 and account.support_code_expires_at is not None and _aware(account.support_code_expires_at) > now
                 and hmac.compare_digest(account.support_code_hash, digest))
        if not valid:
            BUSINESS_EVENTS.labels("identity", "support_code", "refused").inc()
            raise SupportCodeInvalid()
        account.support_code_hash = account.support_code_expires_at = None
        return account

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
            await repo.revoke_all_sessions(session, account.id, now)
            event = AccountBlocked(account_id=account.id, account_version=account.version, reason=reason,
                                   blocked_at=now, occurred_at=now)
        else:
            event = AccountUnblocked(account_id=account.id, account_version=account.version, unblocked_at=now,
                                     occurred_at=now)
        await self.identity.outbox.record(session, event)
        BUSINESS_EVENTS.labels("identity", "block" if blocked else "unblock", "done").inc()
        return account
