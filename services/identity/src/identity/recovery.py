"""Password reset (IDN-13) by recovery e-mail or recovery phone code.

Request: the answer is the same 202 whether or not the address has an
account, and both paths do the same work before answering (an unknown
address computes the code, its hash and the sealed event and writes none of
them), so neither body nor timing tells; the code's event is recorded in the
request's transaction, through the outbox like every message. Requests
are capped per typed e-mail and per source address, the same for every
address. An existing, unblocked account gets an 8-digit code (valid 10
minutes, 5 tries, single use, keyed hash only): by e-mail to the recovery
address (else the login) with PasswordResetRequested, or by SMS to the
recovery mobile with SmsCodeRequested purpose "password_reset" (by e-mail
when the account has no mobile that takes SMS codes).

Confirm: the right code and a password that passes the sign-up policy set
the new password (Argon2id, off the event loop and outside any transaction),
sign out every session and publish PasswordChanged(reason="reset").

A reset never bypasses 2FA (ASVS 5.0 6.4.3): with 2FA on, the confirmation
also needs the proof of a second factor (TOTP code, SMS code sent with
POST /v1/password-reset/sms-code, or an emergency code) and answers 403
second_factor_required without it, leaving the code usable; accounts whose
only factors are security keys or push use an emergency code. The reset never
signs anyone in: the next sign-in asks for password and second factor as
always. Wrong codes and wrong second factors cost a try of the code and
count against the reset throttle.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import Database
from manager_shared.errors import DomainError
from manager_shared.events import PasswordChanged, PasswordResetRequested
from manager_shared.metrics import BUSINESS_EVENTS

from . import phones, throttle
from . import repository as repo
from .addresses import normalize_email
from .codes import Budget, CodeRefused, OneTimeCodes, Outcome
from .factor_sms import RESET as SMS_RESET, SIGN_IN as SMS_SIGN_IN, SmsFactor
from .location import Location
from .models import Account, OneTimeChallenge
from .password_policy import check_password
from .schemas import MfaStep
from .schemas_recovery import SecondFactorProof, SmsChallenge
from .service import IdentityService
from .two_factor import InvalidSecondFactor, TwoFactorService

log = logging.getLogger(__name__)

EMAIL_RESET = "password_reset_email"
RESET_PURPOSES = (EMAIL_RESET, SMS_RESET)
CODE_DIGITS = 8  # anyone may try: more digits than a sign-in code
# Factors whose proof can be bound to a reset (a security key or a push
# approval would need a challenge started for the reset: not there yet).
RESET_FACTORS = frozenset({"totp", "sms"})


class ResetCodeInvalid(DomainError):
    # The same for an unknown e-mail and a wrong code (no enumeration).
    code, status, message = "invalid_code", 422, "The code is not valid: check it or ask for a new one."


class SecondFactorRequired(DomainError):
    code, status, message = ("second_factor_required", 403,
                             "This account has two-factor authentication: add the proof of a second factor.")


def _key(prefix: str, value: str) -> str:
    return f"{prefix}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


@dataclass
class PasswordReset:
    identity: IdentityService
    two_factor: TwoFactorService
    codes: OneTimeCodes
    sms: SmsFactor

    @property
    def settings(self):
        return self.identity.settings

    # -- request -----------------------------------------------------------------

    async def request(self, db: Database, email: str, channel: str, where: Location) -> None:
        """Count the request (429 too_many_attempts beyond the hourly caps,
        the same for every address) and, in the same transaction, record the
        code's event in the outbox (nothing is lost if sending fails later).
        An unknown or blocked address does the same work and writes nothing
        but the count, so neither answer nor timing tells (ASVS 6.3.8)."""
        normalized = normalize_email(email)
        s = self.settings
        limits = {_key("reset", normalized): _hourly(s.password_reset_requests_per_hour),
                  f"reset-ip:{where.ip}": _hourly(s.password_reset_requests_per_hour_per_ip)}
        async with db.transaction() as session:  # checked and counted in one locked step (IDN-04)
            await self.identity.count_attempt(session, tuple(limits), limits)
            account = await repo.account_by_email(session, normalized)
            if account is None or account.status == "blocked":
                await self._same_work(session, normalized, where)
                sent = None
            else:
                sent = await self._send_code(session, account, channel, where)
        BUSINESS_EVENTS.labels("identity", "password_reset",
                               "requested" if sent is None else "sent" if sent else "budget_exceeded").inc()

    async def _same_work(self, session: AsyncSession, normalized: str, where: Location) -> None:
        """What `_by_email` does, leaving nothing written: the budget query,
        the statements of a new code (matching no row), its keyed hash, and the
        sealed event inserted in a savepoint that is rolled back."""
        s, now = self.settings, self.codes.now()
        budget = Budget((EMAIL_RESET,), cooldown_seconds=s.code_cooldown_seconds, per_hour=s.codes_per_hour)
        decoy = uuid.uuid4()
        await self.codes.wait_before_sending(session, account_id=decoy, destination=normalized, purpose=EMAIL_RESET,
                                             budget=budget)
        code = await self.codes.rehearse_issue(session, purpose=EMAIL_RESET, digits=CODE_DIGITS,
                                               supersedes=RESET_PURPOSES)
        event = PasswordResetRequested(account_id=decoy, account_version=1, email=normalized, code=code,
                                       expires_at=now, ip=where.ip, country=where.country, device=where.device,
                                       occurred_at=now)
        savepoint = await session.begin_nested()  # the outbox insert, rolled back: nothing stays
        await self.identity.outbox.record(session, event)
        await savepoint.rollback()

    async def _send_code(self, session: AsyncSession, account: Account, channel: str, where: Location) -> bool:
        """The code by SMS or e-mail; False when the code budget is spent (silently:
        the caller's answer is the same)."""
        phone = account.recovery_phone if channel == "sms" else None
        if phone and phones.can_receive_sms_codes(phone):
            sent = await self._by_sms(session, account, phone)
        else:
            sent = await self._by_email(session, account, where)
        if sent:
            self.identity.log_activity(session, account.id, "password_reset_requested", where, self.codes.now())
        return sent

    async def _by_sms(self, session: AsyncSession, account: Account, phone: str) -> bool:
        budget = self.sms.budget()
        if await self.codes.wait_before_sending(session, account_id=account.id, destination=phone,
                                                purpose=SMS_RESET, budget=budget):
            return False
        await self.sms.send(session, account.id, phone, SMS_RESET, "password_reset", digits=CODE_DIGITS,
                            ttl_seconds=self.settings.password_reset_code_ttl_seconds)
        return True

    async def _by_email(self, session: AsyncSession, account: Account, where: Location) -> bool:
        address = account.recovery_email or account.email
        s = self.settings
        budget = Budget((EMAIL_RESET,), cooldown_seconds=s.code_cooldown_seconds, per_hour=s.codes_per_hour)
        if await self.codes.wait_before_sending(session, account_id=account.id, destination=address,
                                                purpose=EMAIL_RESET, budget=budget):
            return False
        row, code = await self.codes.issue(session, account_id=account.id, purpose=EMAIL_RESET, digits=CODE_DIGITS,
                                           ttl_seconds=s.password_reset_code_ttl_seconds, destination=address,
                                           supersedes=RESET_PURPOSES)
        await self.identity.outbox.record(session, PasswordResetRequested(
            account_id=account.id, account_version=account.version, email=address, code=code,
            expires_at=row.expires_at, ip=where.ip, country=where.country, device=where.device,
            occurred_at=self.codes.now()))
        return True

    # -- second factor for the reset --------------------------------------------------

    async def send_sms_second_factor(self, db: Database, email: str, code: str, method_id: uuid.UUID | None,
                                     where: Location) -> SmsChallenge:
        """For a 2FA account with an SMS factor: with a valid reset code, send
        a second-factor code bound to this reset. A factor on the very phone
        the reset code went to is not a second factor and is not used."""
        normalized, keys = self._try_keys(email, where)
        async with db.transaction() as session:
            attempt, account, row, outcome = await self._check_code(session, normalized, code, keys)
            if outcome is Outcome.OK:
                await self.identity.release_attempt(session, attempt)
                exclude = account.recovery_phone if row.purpose == SMS_RESET else None
                method = await self.sms.method_for(session, account.id, method_id, exclude_phone=exclude)
                left = int((row.expires_at - self.codes.now()).total_seconds())
                sent = await self.sms.send(session, account.id, method.phone, SMS_SIGN_IN, "sign_in",
                                           bound_to=_binding(row), method_id=method.id,
                                           ttl_seconds=max(1, min(self.settings.sms_code_ttl_seconds, left)))
                return SmsChallenge(challenge_id=sent.id, sent_to=phones.hint(method.phone),
                                    expires_at=sent.expires_at)
        BUSINESS_EVENTS.labels("identity", "password_reset", "refused").inc()  # the try stays counted
        raise _refusal(outcome)

    # -- confirm -----------------------------------------------------------------------

    async def confirm(self, db: Database, email: str, code: str, new_password: str,
                      proof: SecondFactorProof | None, where: Location) -> None:
        """Set the new password (see the module docstring for the rules)."""
        normalized, keys = self._try_keys(email, where)
        factor_ok = False
        async with db.transaction() as session:
            attempt, account, row, outcome = await self._check_code(session, normalized, code, keys)
            if outcome is Outcome.OK:
                check_password(new_password, email=account.email, first_name=account.first_name,
                               last_name=account.last_name)
                factor_ok = await self._second_factor(session, account, row, proof, where)
                if factor_ok:
                    await self.identity.release_attempt(session, attempt)
        if outcome is not Outcome.OK or not factor_ok:
            BUSINESS_EVENTS.labels("identity", "password_reset", "refused").inc()  # the try stays counted
            raise _refusal(outcome) if outcome is not Outcome.OK else InvalidSecondFactor()
        new_hash = await self.identity.passwords.hash(new_password)
        async with db.transaction() as session:
            await self._apply(session, account.id, row.id, new_hash, where)
        BUSINESS_EVENTS.labels("identity", "password_reset", "done").inc()

    def _try_keys(self, email: str, where: Location) -> tuple[str, tuple[str, ...]]:
        normalized = normalize_email(email)
        return normalized, (_key("reset-try", normalized), throttle.ip_key(where.ip))

    async def _check_code(self, session: AsyncSession, normalized: str, code: str, keys: tuple[str, ...]):
        """(attempt, account, challenge, outcome) for the typed code; the code
        is not spent. The try is counted first, in the same locked step as
        the throttle check (IDN-04): the caller releases it on success; a
        refusal for another reason (policy, missing factor) rolls it back."""
        attempt = await self.identity.count_attempt(session, keys)
        account = await repo.account_by_email(session, normalized)
        if account is None or account.status == "blocked":
            return attempt, account, None, Outcome.INVALID
        row = await self.codes.latest(session, account.id, RESET_PURPOSES)
        return attempt, account, row, self.codes.check(row, code, spend=False, discreet=True)

    async def _second_factor(self, session: AsyncSession, account: Account, row: OneTimeChallenge,
                             proof: SecondFactorProof | None, where: Location) -> bool:
        """True without 2FA; with it, the proof must hold (a wrong one costs a
        try of the reset code). 403 second_factor_required without a proof."""
        factors = await self.two_factor.confirmed(session, account.id)
        if not factors:
            return True
        if proof is None:
            usable = sorted({k.kind for k, _ in factors} & RESET_FACTORS)
            raise SecondFactorRequired(methods=[*usable, "emergency_code"])
        step = MfaStep.model_construct(mfa_token="", **proof.model_dump())
        claims = {"sub": str(account.id), "jti": _binding(row), "exp": row.expires_at.timestamp()}
        # TwoFactorService's own dispatch (as in the second step of sign-in)
        if await self.two_factor.check_factor(session, account.id, step, claims, where) is not None:
            return True
        self.codes.count_failure(row)
        return False

    async def _apply(self, session: AsyncSession, account_id: uuid.UUID, challenge_id: uuid.UUID, new_hash: str,
                     where: Location) -> None:
        """Spend the code (unless a concurrent confirmation did), set the hash,
        end every session, tell the owner."""
        row = await self.codes.pending(session, challenge_id, account_id, RESET_PURPOSES)
        if self.codes.inspect(row) is not Outcome.OK:
            raise ResetCodeInvalid()
        self.codes.spend(row)
        now = self.codes.now()
        account = await repo.account_by_id(session, account_id)
        account.password_hash, account.version, account.updated_at = new_hash, account.version + 1, now
        await self.identity.end_sessions(session, account.id, "password_reset")
        self.identity.log_activity(session, account.id, "password_reset", where, now)
        await self.identity.outbox.record(session, PasswordChanged(
            account_id=account.id, account_version=account.version, reason="reset", ip=where.ip,
            country=where.country, device=where.device, changed_at=now, occurred_at=now))


def _refusal(outcome: Outcome) -> DomainError:
    """One answer for a wrong code and an unknown e-mail; expired, used or
    exhausted only for the right code (`discreet` checks), i.e. to its holder."""
    return ResetCodeInvalid() if outcome is Outcome.INVALID else CodeRefused.of(outcome)


def _binding(row: OneTimeChallenge) -> str:
    """What second-factor challenges of this reset are bound to (in place of an mfa_token's jti)."""
    return f"reset:{row.id}"


def _hourly(per_hour: int) -> throttle.Limits:
    """Requests are capped per hour only (no streak: each one is counted)."""
    return throttle.Limits(delay_after=10**9, lock_after=10**9, lock_seconds=3600, max_per_hour=per_hour)


