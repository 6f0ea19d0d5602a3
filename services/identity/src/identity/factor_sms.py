"""SMS codes as a second factor (IDN-14c).

Enrolment (recent sign-in, IDN-19): a CH, FR, BE or DE mobile number,
validated and stored E.164 (phones.py), is pending until the code sent to it
is typed back; the first factor of an account issues the emergency codes.

Sign-in: with the mfa_token of the password step, POST /v1/sessions/mfa/sms
sends a code bound to that token's jti; POST /v1/sessions/mfa with
{method: "sms", challenge_id, code} checks it here. Codes: 6 digits from the
CSPRNG, valid 5 minutes (setting, at most 10), single use, at most 5 wrong
tries each, stored as a keyed hash only, and at most one per minute and five
an hour per account and per number (codes.py). The code travels only in the
SmsCodeRequested event for the SMS gateway; it is never logged.
"""
from __future__ import annotations

import uuid
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import Conflict, DomainError
from manager_shared.events import SmsCodeRequested

from . import phones, throttle
from . import repository as repo
from .codes import Budget, CodeRefused, OneTimeCodes, Outcome, TooManyCodes
from .location import Location
from .models import OneTimeChallenge, SmsMethod
from .schemas import MfaStep
from .schemas_recovery import SmsChallenge, SmsEnrolment
from .two_factor import FactorKind, MethodNotFound

SIGN_IN, ENROLMENT, RESET = "sms_sign_in", "sms_enrolment", "password_reset_sms"
# Every SMS we send shares one budget per account and per number.
SMS_PURPOSES = (SIGN_IN, ENROLMENT, RESET)
CODE_DIGITS = 6


class SmsCountryNotSupported(DomainError):
    code, status, message = ("sms_country_not_supported", 422,
                             "SMS codes go only to mobile numbers of Switzerland, France, Belgium and Germany.")


class SmsMethodExists(Conflict):
    code, message = "sms_method_exists", "This number already receives your sign-in codes."


class SmsFactor(FactorKind):
    kind = "sms"
    model = SmsMethod

    def __init__(self, codes: OneTimeCodes) -> None:
        self.codes = codes

    @property
    def _settings(self):
        return self.service.identity.settings

    def budget(self) -> Budget:
        s = self._settings
        return Budget(SMS_PURPOSES, cooldown_seconds=s.code_cooldown_seconds, per_hour=s.codes_per_hour)

    async def send(self, session: AsyncSession, account_id: uuid.UUID, phone: str, purpose: str, event_purpose: str,
                   *, ttl_seconds: int, digits: int = CODE_DIGITS, bound_to: str | None = None,
                   method_id: uuid.UUID | None = None) -> OneTimeChallenge:
        """Issue a code for `phone` and ask notifications to send it
        (SmsCodeRequested); 429 too_many_codes beyond the budget."""
        wait = await self.codes.wait_before_sending(session, account_id=account_id, destination=phone,
                                                    purpose=purpose, budget=self.budget())
        if wait:
            raise TooManyCodes(wait)
        row, code = await self.codes.issue(session, account_id=account_id, purpose=purpose, ttl_seconds=ttl_seconds,
                                           digits=digits, destination=phone, bound_to=bound_to, method_id=method_id)
        account = await repo.account_by_id(session, account_id)
        await self.service.identity.outbox.record(session, SmsCodeRequested(
            account_id=account_id, account_version=account.version, phone=phone, code=code, purpose=event_purpose,
            expires_at=row.expires_at, occurred_at=self.codes.now()))
        return row

    # -- enrolment -----------------------------------------------------------------

    async def start(self, session: AsyncSession, who: Principal, raw_phone: str, name: str | None) -> SmsEnrolment:
        """Step 1: a pending number and a code sent to it. An unfinished
        enrolment of the account is replaced."""
        self.service.require_recent(who)
        e164 = phones.to_e164(raw_phone)
        if not phones.can_receive_sms_codes(e164):
            raise SmsCountryNotSupported()
        mine = list((await session.execute(select(SmsMethod).where(SmsMethod.account_id == who.account_id))).scalars())
        if any(m.phone == e164 and m.confirmed_at is not None for m in mine):
            raise SmsMethodExists()
        await session.execute(sa.delete(SmsMethod).where(SmsMethod.account_id == who.account_id,
                                                         SmsMethod.confirmed_at.is_(None)))
        method = SmsMethod(account_id=who.account_id, name=name or f"SMS {phones.hint(e164)}", phone=e164,
                           created_at=self.codes.now())
        session.add(method)
        await session.flush()
        row = await self.send(session, who.account_id, e164, ENROLMENT, "enrolment", method_id=method.id,
                              ttl_seconds=self._settings.sms_code_ttl_seconds)
        return SmsEnrolment(id=method.id, sent_to=phones.hint(e164), challenge_id=row.id, expires_at=row.expires_at)

    async def resend(self, session: AsyncSession, who: Principal, method_id: uuid.UUID) -> SmsEnrolment:
        """A new enrolment code for a pending number (the previous one stops working)."""
        self.service.require_recent(who)
        method = await self._pending(session, who, method_id)
        row = await self.send(session, who.account_id, method.phone, ENROLMENT, "enrolment", method_id=method.id,
                              ttl_seconds=self._settings.sms_code_ttl_seconds)
        return SmsEnrolment(id=method.id, sent_to=phones.hint(method.phone), challenge_id=row.id,
                            expires_at=row.expires_at)

    async def confirm(self, db: Database, who: Principal, method_id: uuid.UUID, code: str) -> list[str] | None:
        """Step 2: the code typed back proves the number; the factor is on.
        A wrong code is counted (committed) before the refusal."""
        self.service.require_recent(who)
        async with db.transaction() as session:
            method = await self._pending(session, who, method_id)
            outcome = self.codes.check(await self.codes.latest(session, who.account_id, (ENROLMENT,), method.id), code)
            if outcome is Outcome.OK:
                method.last_used_at = self.codes.now()
                return await self.service.enable(session, who.account_id, self, method)
        raise CodeRefused.of(outcome)

    async def _pending(self, session: AsyncSession, who: Principal, method_id: uuid.UUID) -> SmsMethod:
        method = await session.get(SmsMethod, method_id)
        if method is None or method.account_id != who.account_id or method.confirmed_at is not None:
            raise MethodNotFound("No such pending SMS number.")
        return method

    # -- sign-in ---------------------------------------------------------------------

    async def send_sign_in_code(self, db: Database, mfa_token: str, method_id: uuid.UUID | None,
                                where: Location) -> SmsChallenge:
        """Second step of sign-in: send a code to the account's SMS factor,
        bound to this mfa_token (it works with no other). Refused while the
        second step is locked for too many wrong proofs."""
        ident = self.service.identity
        async with db.transaction() as session:
            claims = await self.service.read_claims(session, mfa_token)
            account_id = uuid.UUID(claims["sub"])
            await ident.refuse_if_throttled(session, (f"mfa:{account_id}", throttle.ip_key(where.ip)))
            method = await self.method_for(session, account_id, method_id)
            row = await self.send(session, account_id, method.phone, SIGN_IN, "sign_in", bound_to=claims["jti"],
                                  method_id=method.id, ttl_seconds=self._ttl_within(claims))
            return SmsChallenge(challenge_id=row.id, sent_to=phones.hint(method.phone), expires_at=row.expires_at)

    def _ttl_within(self, claims: dict) -> int:
        """The code's life, never beyond the mfa_token's own expiry."""
        left = int(claims["exp"] - self.codes.now().timestamp())
        return max(1, min(self._settings.sms_code_ttl_seconds, left))

    async def method_for(self, session: AsyncSession, account_id: uuid.UUID, method_id: uuid.UUID | None,
                         exclude_phone: str | None = None) -> SmsMethod:
        """The confirmed SMS factor asked for, or the oldest one (404 if none)."""
        query = select(SmsMethod).where(SmsMethod.account_id == account_id, SmsMethod.confirmed_at.is_not(None))
        if method_id is not None:
            query = query.where(SmsMethod.id == method_id)
        if exclude_phone is not None:
            query = query.where(SmsMethod.phone != exclude_phone)
        method = (await session.execute(query.order_by(SmsMethod.created_at, SmsMethod.id).limit(1))).scalars().first()
        if method is None:
            raise MethodNotFound("No SMS second factor to send a code to.")
        return method

    async def verify(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                     where: Location) -> bool:
        """The code of challenge `step.challenge_id`, sent for this very
        mfa_token (jti), to a number still registered; spent when right, a
        try counted when wrong (the caller commits either way)."""
        if not step.code or step.challenge_id is None:
            return False
        row = await self.codes.pending(session, step.challenge_id, account_id, (SIGN_IN,))
        if row is None or row.bound_to != claims.get("jti") or row.method_id is None:
            return False
        method = await session.get(SmsMethod, row.method_id)
        if method is None or method.account_id != account_id or method.confirmed_at is None:
            return False
        if self.codes.check(row, step.code) is not Outcome.OK:
            return False
        method.last_used_at = self.codes.now()
        return True
