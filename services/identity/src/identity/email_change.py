"""Login e-mail change (IDN-06) and the recovery e-mail.

Request: the current password (throttled like sign-in), the new address
typed twice and the same, not the current login, not the recovery address.
An 8-digit code (valid 30 minutes, 5 tries, single use, keyed hash only) goes
to the new address and a notice to the old one (LoginEmailChangeRequested);
nothing changes until the code is typed back. A new request replaces the
pending one.

Whether the new address is already another account's login is not told at
request time: the answer and the mail are the same either way, so a signed-in
user cannot probe addresses for accounts. It is told (409 email_taken) only
at confirmation, i.e. to whoever reads the new mailbox and so could learn it
anyway. The unique index on the normalized login settles a race between two
confirmations the same way (409, never 500).

Confirm: the code switches the login (LoginEmailChanged, old and new
address); GET /v1/me always shows the current login.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import Conflict, DomainError, NotFound
from manager_shared.events import LoginEmailChanged, LoginEmailChangeRequested, RecoveryEmailChanged
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from .addresses import display_email, normalize_email
from .codes import Budget, CodeRefused, OneTimeCodes, Outcome, TooManyCodes, payload_of
from .location import Location
from .schemas_recovery import LoginEmailChangePending, LoginEmailRead, RecoveryEmailRead
from .service import IdentityService

PURPOSE = "email_change"
CODE_DIGITS = 8


class EmailMismatch(DomainError):
    code, status, message = "email_mismatch", 422, "The two new addresses are not the same."


class SameEmail(DomainError):
    code, status, message = "same_email", 422, "This is already your login e-mail."


class SameAsRecoveryEmail(DomainError):
    code, status, message = ("same_as_recovery_email", 422,
                             "The login e-mail must differ from the recovery e-mail.")


class SameAsLoginEmail(DomainError):
    code, status, message = ("same_as_login_email", 422,
                             "The recovery e-mail must differ from the login e-mail.")


class EmailTaken(Conflict):
    code, message = ("email_taken", "This address is the login of another account: invite it into your "
                     "organization instead, or choose another address.")


class NoPendingChange(NotFound):
    code, message = "no_pending_email_change", "There is no e-mail change waiting for a code."


@dataclass
class EmailChange:
    identity: IdentityService
    codes: OneTimeCodes

    async def request(self, db: Database, who: Principal, password: str, new_email: str, repeat: str,
                      where: Location) -> LoginEmailChangePending:
        """Check the rules, then send the code to the new address."""
        new_email = display_email(new_email)
        normalized = normalize_email(new_email)
        if normalized != normalize_email(repeat):
            raise EmailMismatch()
        # the password comes before the other rules: they are not probed without it
        account = await self.identity.confirm_password(db, who.account_id, password, where)
        self._check_rules(account, normalized)
        async with db.transaction() as session:
            account = await repo.account_by_id(session, who.account_id)
            s = self.identity.settings
            wait = await self.codes.wait_before_sending(
                session, account_id=account.id, destination=normalized, purpose=PURPOSE,
                budget=Budget((PURPOSE,), cooldown_seconds=s.code_cooldown_seconds, per_hour=s.codes_per_hour))
            if wait:
                raise TooManyCodes(wait)
            row, code = await self.codes.issue(session, account_id=account.id, purpose=PURPOSE, digits=CODE_DIGITS,
                                               ttl_seconds=s.email_change_code_ttl_seconds, destination=normalized,
                                               payload={"new_email": new_email})
            now = self.codes.now()
            self.identity.log_activity(session, account.id, "login_email_change_requested", where, now)
            await self.identity.outbox.record(session, LoginEmailChangeRequested(
                account_id=account.id, account_version=account.version, old_email=account.email,
                new_email=new_email, code=code, expires_at=row.expires_at, occurred_at=now))
        BUSINESS_EVENTS.labels("identity", "email_change", "requested").inc()
        return LoginEmailChangePending(expires_at=row.expires_at)

    @staticmethod
    def _check_rules(account, normalized: str) -> None:
        if normalized == account.email_normalized:
            raise SameEmail()
        if account.recovery_email and normalize_email(account.recovery_email) == normalized:
            raise SameAsRecoveryEmail()

    async def confirm(self, db: Database, who: Principal, code: str, where: Location) -> LoginEmailRead:
        """The code from the new mailbox makes the new address the login."""
        async with db.transaction() as session:
            row = await self.codes.latest(session, who.account_id, (PURPOSE,))
            if row is None:
                raise NoPendingChange()
            outcome = self.codes.check(row, code, spend=False)
            if outcome is Outcome.OK:
                return await self._switch(session, who.account_id, row, where)
        raise CodeRefused.of(outcome)  # after the commit: the wrong try is counted

    async def _switch(self, session: AsyncSession, account_id: uuid.UUID, row, where: Location) -> LoginEmailRead:
        new_email = payload_of(row).get("new_email", "")
        normalized = normalize_email(new_email)
        account = await repo.account_by_id(session, account_id)
        self._check_rules(account, normalized)  # the recovery address may have changed since
        other = await repo.account_by_email(session, normalized)
        if other is not None and other.id != account.id:
            raise EmailTaken()
        self.codes.spend(row)
        old, now = account.email, self.codes.now()
        try:
            async with session.begin_nested():  # a concurrent confirmation of the same address loses here
                account.email, account.email_normalized = new_email, normalized
                account.version, account.updated_at = account.version + 1, now
                await session.flush()
        except IntegrityError:
            raise EmailTaken() from None
        self.identity.log_activity(session, account.id, "login_email_changed", where, now)
        await self.identity.outbox.record(session, LoginEmailChanged(
            account_id=account.id, account_version=account.version, old_email=old, new_email=new_email,
            changed_at=now, occurred_at=now))
        BUSINESS_EVENTS.labels("identity", "email_change", "done").inc()
        return LoginEmailRead(email=new_email)

    async def current(self, session: AsyncSession, who: Principal) -> LoginEmailRead:
        """The current login and, if any, the address waiting for its code."""
        account = await repo.account_by_id(session, who.account_id)
        if account is None:
            raise NotFound()
        row = await self.codes.latest(session, account.id, (PURPOSE,))
        if row is None or self.codes.inspect(row) is not Outcome.OK:
            return LoginEmailRead(email=account.email)
        return LoginEmailRead(email=account.email, pending_email=payload_of(row).get("new_email"),
                              pending_expires_at=row.expires_at)

    async def set_recovery_email(self, db: Database, who: Principal, password: str, address: str | None,
                                 where: Location) -> RecoveryEmailRead:
        """Set, replace or (None) remove the recovery e-mail; the password is
        required and it must differ from the login."""
        address = display_email(address) if address else None
        account = await self.identity.confirm_password(db, who.account_id, password, where)
        if address and normalize_email(address) == account.email_normalized:
            raise SameAsLoginEmail()
        async with db.transaction() as session:
            account = await repo.account_by_id(session, who.account_id)
            if account.recovery_email == address:
                return RecoveryEmailRead(recovery_email=address)
            now, old = self.codes.now(), account.recovery_email
            account.recovery_email, account.version, account.updated_at = address, account.version + 1, now
            self.identity.log_activity(session, account.id, "recovery_email_changed", where, now)
            await self.identity.outbox.record(session, RecoveryEmailChanged(
                account_id=account.id, account_version=account.version, old_recovery_email=old,
                recovery_email_hint=mask_email(address) if address else None, ip=where.ip, country=where.country,
                device=where.device, changed_at=now, occurred_at=now))
        return RecoveryEmailRead(recovery_email=address)


def mask_email(address: str) -> str:
    """First letter and domain only: enough for the owner to recognise it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"
