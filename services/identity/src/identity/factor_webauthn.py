"""Security keys as a second factor (IDN-14b): WebAuthn with py_webauthn.

Registration (recent sign-in, IDN-19): `begin_registration` returns the
creation options for navigator.credentials.create(); their challenge is kept
server-side as a OneTimeChallenge (purpose "webauthn_register", single use,
a few minutes). `finish_registration` spends that challenge first (committed,
so a failed attempt cannot be retried with it), then verifies the attestation
(rp id, origin, challenge, user presence) and stores the credential: its id
(base64url, unique across accounts), COSE public key, signature counter and
transports. Only "none"/self attestation is asked for: we trust the key to
hold a private key, not a make or model.

Sign-in: `sign_in_options` (with the mfa_token of the password step) returns
request options for the account's keys, the challenge bound to that token's
jti (a newer request replaces it). `verify` (POST /v1/sessions/mfa with
method "webauthn") spends the challenge whatever the outcome, checks the
assertion against the key of this account it names, and refuses a signature
counter that does not increase (a cloned key) unless the key keeps none (0).
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AttestationConveyancePreference, AuthenticatorSelectionCriteria,
                                      AuthenticatorTransport, PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import Conflict, DomainError

from . import repository as repo
from . import throttle
from .location import Location
from .models import OneTimeChallenge, WebAuthnCredential
from .schemas import MfaStep, TwoFactorMethodRead
from .schemas_webauthn import WebAuthnOptions, WebAuthnRegistered
from .two_factor import FactorKind

log = logging.getLogger(__name__)

REGISTER, SIGN_IN = "webauthn_register", "webauthn_sign_in"
# What a malformed credential can raise while parsed or checked: refused, never a 500.
_BAD_INPUT = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError)
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class WebAuthnChallengeInvalid(DomainError):
    code, status, message = ("webauthn_challenge_invalid", 422,
                             "This security key request is unknown, used or expired: start again.")


class WebAuthnRefused(DomainError):
    code, status, message = "webauthn_invalid", 422, "The security key's answer could not be verified."


class WebAuthnKeyExists(Conflict):
    code, message = "webauthn_key_exists", "This security key is already registered."


class NoSecurityKey(Conflict):
    code, message = "no_security_key", "This account has no security key."


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings) -> RelyingParty:
        origins = tuple(o.strip().rstrip("/") for o in settings.webauthn_origins.split(",") if o.strip())
        return cls(settings.webauthn_rp_id, settings.webauthn_rp_name, origins)


class WebAuthnFactor(FactorKind):
    kind = "webauthn"
    model = WebAuthnCredential

    def __init__(self, rp: RelyingParty, challenge_ttl_seconds: int = 300) -> None:
        self.rp = rp
        self.ttl = timedelta(seconds=challenge_ttl_seconds)

    @classmethod
    def from_settings(cls, settings) -> WebAuthnFactor:
        return cls(RelyingParty.from_settings(settings), settings.webauthn_challenge_ttl_seconds)

    def _now(self) -> datetime:
        return self.service.clock.now()

    # -- registration -------------------------------------------------------------

    async def begin_registration(self, session: AsyncSession, who: Principal, name: str) -> WebAuthnOptions:
        """Step 1: creation options; the account's keys are excluded, so one
        key is not registered twice."""
        self.service.require_recent(who)
        account = await repo.account_by_id(session, who.account_id)
        mine = await self._keys(session, who.account_id, confirmed_only=False)
        options = generate_registration_options(
            rp_id=self.rp.id, rp_name=self.rp.name, user_id=account.id.bytes, user_name=account.email,
            user_display_name=f"{account.first_name} {account.last_name}",
            timeout=int(self.ttl.total_seconds() * 1000), attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.DISCOURAGED),
            exclude_credentials=[_descriptor(k) for k in mine])
        row = self._challenge(who.account_id, REGISTER, options.challenge, name=name)
        session.add(row)
        return WebAuthnOptions(challenge_id=row.id, public_key=json.loads(options_to_json(options)),
                               expires_at=row.expires_at)

    async def finish_registration(self, db: Database, who: Principal, challenge_id: uuid.UUID,
                                  credential: dict[str, Any]) -> WebAuthnRegistered:
        """Step 2: the key's attestation for that challenge; the key is on.
        The challenge is spent (committed) before the check."""
        self.service.require_recent(who)
        async with db.transaction() as session:
            row = await self._claim(session, who.account_id, challenge_id)
            expected, name = base64url_to_bytes(row["challenge"]), row["name"]
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=expected, expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins), require_user_verification=False)
        except _BAD_INPUT as exc:
            log.info("security key registration refused for %s: %s", who.account_id, type(exc).__name__)
            raise WebAuthnRefused() from None
        credential_id = bytes_to_base64url(verified.credential_id)
        async with db.transaction() as session:
            taken = (await session.execute(select(WebAuthnCredential.id).where(
                WebAuthnCredential.credential_id == credential_id))).first()
            if taken is not None:
                raise WebAuthnKeyExists()
            key = WebAuthnCredential(account_id=who.account_id, name=name, credential_id=credential_id,
                                     public_key=verified.credential_public_key, sign_count=verified.sign_count,
                                     transports=_transports(credential), created_at=self._now())
            session.add(key)
            await session.flush()
            codes = await self.service.enable(session, who.account_id, self, key)
            return WebAuthnRegistered(method=TwoFactorMethodRead(id=key.id, kind=self.kind, name=key.name,
                                                                 created_at=key.created_at),
                                      emergency_codes=codes)

    async def _claim(self, session: AsyncSession, account_id: uuid.UUID, challenge_id: uuid.UUID) -> dict:
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == challenge_id, OneTimeChallenge.account_id == account_id,
            OneTimeChallenge.purpose == REGISTER).with_for_update())).scalar_one_or_none()
        if row is None or row.used_at is not None or row.expires_at <= self._now():
            raise WebAuthnChallengeInvalid()
        row.used_at = self._now()
        return json.loads(row.payload)

    # -- sign-in ------------------------------------------------------------------

    async def sign_in_options(self, db: Database, mfa_token: str, where: Location) -> WebAuthnOptions:
        """Request options for the account's keys, bound to this mfa_token;
        refused while the second step is locked (IDN-04)."""
        async with db.transaction() as session:
            claims = await self.service.read_claims(session, mfa_token)
            account_id = uuid.UUID(claims["sub"])
            await self.service.identity.refuse_if_throttled(session, (f"mfa:{account_id}", throttle.ip_key(where.ip)))
            keys = await self._keys(session, account_id)
            if not keys:
                raise NoSecurityKey()
            options = generate_authentication_options(
                rp_id=self.rp.id, timeout=int(self.ttl.total_seconds() * 1000),
                allow_credentials=[_descriptor(k) for k in keys],
                user_verification=UserVerificationRequirement.DISCOURAGED)
            # only the latest request of this sign-in works
            await session.execute(sa.delete(OneTimeChallenge).where(
                OneTimeChallenge.bound_to == claims["jti"], OneTimeChallenge.purpose == SIGN_IN))
            mfa_expiry = datetime.fromtimestamp(claims["exp"], timezone.utc)
            row = self._challenge(account_id, SIGN_IN, options.challenge, bound_to=claims["jti"],
                                  not_after=mfa_expiry)
            session.add(row)
            return WebAuthnOptions(challenge_id=row.id, public_key=json.loads(options_to_json(options)),
                                   expires_at=row.expires_at)

    async def verify(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                     where: Location) -> bool:
        credential = step.webauthn
        key_id = _canonical_id(credential.get("id") if credential else None)
        if key_id is None:
            return False
        challenge = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.bound_to == claims["jti"], OneTimeChallenge.purpose == SIGN_IN,
            OneTimeChallenge.account_id == account_id).with_for_update())).scalars().first()
        now = self._now()
        if challenge is None or challenge.used_at is not None or challenge.expires_at <= now:
            return False
        challenge.used_at = now  # single use, whatever the outcome (committed with the failure)
        key = (await session.execute(select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == key_id, WebAuthnCredential.account_id == account_id,
            WebAuthnCredential.confirmed_at.is_not(None)).with_for_update())).scalar_one_or_none()
        if key is None:
            return False
        try:
            expected = base64url_to_bytes(json.loads(challenge.payload)["challenge"])
            verified = verify_authentication_response(
                credential=credential, expected_challenge=expected,
                expected_rp_id=self.rp.id, expected_origin=list(self.rp.origins),
                credential_public_key=key.public_key, credential_current_sign_count=key.sign_count,
                require_user_verification=False)
        except _BAD_INPUT as exc:
            # e.g. wrong origin or challenge, bad signature, or a counter that did
            # not increase (a cloned key): the reason is logged, never the data
            log.info("security key %s refused: %s", key.id, _reason(exc))
            return False
        key.sign_count, key.last_used_at = verified.new_sign_count, now
        return True

    # -- helpers --------------------------------------------------------------------

    def _challenge(self, account_id: uuid.UUID, purpose: str, challenge: bytes, *, name: str | None = None,
                   bound_to: str | None = None, not_after: datetime | None = None) -> OneTimeChallenge:
        now = self._now()
        expires = min(now + self.ttl, not_after) if not_after else now + self.ttl
        payload = {"challenge": bytes_to_base64url(challenge)} | ({"name": name} if name else {})
        return OneTimeChallenge(id=uuid.uuid4(), account_id=account_id, purpose=purpose, payload=json.dumps(payload),
                                bound_to=bound_to, created_at=now, expires_at=expires)

    async def _keys(self, session: AsyncSession, account_id: uuid.UUID,
                    confirmed_only: bool = True) -> list[WebAuthnCredential]:
        query = select(WebAuthnCredential).where(WebAuthnCredential.account_id == account_id)
        if confirmed_only:
            query = query.where(WebAuthnCredential.confirmed_at.is_not(None))
        return list((await session.execute(query)).scalars())


def _descriptor(key: WebAuthnCredential) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in key.transports.split(",") if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id), transports=transports or None)


def _transports(credential: dict[str, Any]) -> str:
    """The transports the browser reported (known values only), comma-separated."""
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(found, list):
        return ""
    return ",".join(sorted({t for t in found if isinstance(t, str) and t in _TRANSPORTS}))[:200]


def _canonical_id(value: Any) -> str | None:
    """A credential id as we store it (unpadded base64url), or None if it is not one."""
    if not isinstance(value, str) or not 0 < len(value) <= 1400:
        return None
    try:
        return bytes_to_base64url(base64url_to_bytes(value))
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "sign count" in text:
        return "signature counter did not increase (possible cloned key)"
    return type(exc).__name__
