"""Push approval on the provider's mobile app as a second factor (IDN-14d).

The app on a device holds a private key (EC P-256 or Ed25519) that never
leaves it; we keep the public key and accept only what it signs. Every signed
message starts with its purpose, so a signature made for one step is no proof
for another (UTF-8, fields joined by "\\n"; ECDSA with SHA-256, DER-encoded;
signatures travel base64url):

    manager-push-pair\\n{pairing_token}                      pairing proof
    manager-push-fetch\\n{device_id}\\n{unix_timestamp}       listing pending sign-ins
    manager-push-answer\\n{challenge_id}\\n{approve|deny}\\n{nonce}   the YES/NO

Pairing (recent sign-in, IDN-19): the Manager shows a pairing token (as a QR
code: OneTimeChallenge "push_pairing", ~10 minutes, stored hashed); the app
posts it with its public key and the pairing proof; the device is pending
until the signed-in holder confirms the pairing in the Manager, which turns
the factor on (and returns the emergency codes with the first factor, to the
Manager session that asked for them rather than to the phone).

Sign-in: with the mfa_token of the password step, a pending challenge
("push_sign_in", bound to the token's jti, at most 2 minutes, carrying the
attempt's address, country, device and time) is opened for the account's
devices; at most `push_requests_per_sign_in` per mfa_token, each new one
closing the previous ("MFA fatigue"). A device lists what waits for it with a
signed, timestamped request and answers with a signature over the challenge
id, the answer and the challenge's nonce. A device of another account gets
"not found". A denial counts as a failed second step (IDN-04) and is kept
in the recent activity with the attempt's place (IDN-10). The waiting client long-polls;
an approved challenge opens the session once.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.auth import Principal
from manager_shared.db import Database
from manager_shared.errors import Conflict, DomainError, NotFound, Unauthorized

from . import throttle
from .location import Location
from .models import OneTimeChallenge, PushDevice
from .schemas import MfaStep, TokenPair, TwoFactorMethodRead
from .schemas_push import (PushAnswered, PushChallengeRead, PushDeviceRegistered, PushPaired, PushPairing, PushPending,
                           PushSignInChallenge)
from .tokens import hash_token
from .two_factor import AMR, FactorKind

log = logging.getLogger(__name__)

PAIRING, SIGN_IN = "push_pairing", "push_sign_in"
POLL_INTERVAL_SECONDS = 0.5


class PushPairingInvalid(DomainError):
    code, status, message = "push_pairing_invalid", 422, "This pairing is unknown, used or expired: start again."


class PushPairingNotReady(Conflict):
    code, message = "push_pairing_not_ready", "The app has not answered this pairing yet."


class PushKeyUnsupported(DomainError):
    code, status, message = "push_key_unsupported", 422, "The public key must be an EC P-256 or Ed25519 key (PEM)."


class PushSignatureInvalid(Unauthorized):
    code, message = "push_signature_invalid", "The device's signature is not valid."


class PushRequestStale(Unauthorized):
    code, message = "push_request_stale", "The device's request is too old or its clock is wrong."


class PushChallengeNotFound(NotFound):
    code, message = "push_challenge_not_found", "No such sign-in request."


class PushChallengeClosed(Conflict):
    code, message = "push_challenge_closed", "This sign-in request was already answered or has expired."


class PushDenied(Unauthorized):
    code, message = "push_denied", "The sign-in was refused on your device."


class PushExpired(Unauthorized):
    code, message = "push_expired", "Your device did not answer in time: try again."


class NoPushDevice(Conflict):
    code, message = "no_push_device", "This account has no paired device."


class TooManyPushRequests(DomainError):
    code, status, message = "too_many_push_requests", 429, "Too many approval requests for this sign-in: sign in again."


def pairing_message(pairing_token: str) -> bytes:
    return f"manager-push-pair\n{pairing_token}".encode()


def fetch_message(device_id: uuid.UUID, timestamp: int) -> bytes:
    return f"manager-push-fetch\n{device_id}\n{timestamp}".encode()


def answer_message(challenge_id: uuid.UUID, answer: str, nonce: str) -> bytes:
    return f"manager-push-answer\n{challenge_id}\n{answer}\n{nonce}".encode()


def canonical_public_key(pem: str) -> str:
    """The device key as SubjectPublicKeyInfo PEM; only EC P-256 and Ed25519."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PushKeyUnsupported() from None
    if not (isinstance(key, ed25519.Ed25519PublicKey)
            or (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1))):
        raise PushKeyUnsupported()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signature_valid(public_pem: str, signature: str, message: bytes) -> bool:
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        key = serialization.load_pem_public_key(public_pem.encode())
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, message)
        else:
            key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


class PushFactor(FactorKind):
    kind = "push"
    model = PushDevice

    def __init__(self, settings) -> None:
        self.pairing_ttl = timedelta(seconds=settings.push_pairing_ttl_seconds)
        self.challenge_ttl = timedelta(seconds=settings.push_challenge_ttl_seconds)
        self.max_skew = settings.push_request_max_skew_seconds
        self.per_sign_in = settings.push_requests_per_sign_in

    def _now(self) -> datetime:
        return self.service.clock.now()

    # -- pairing ------------------------------------------------------------------

    async def start_pairing(self, session: AsyncSession, who: Principal, name: str) -> PushPairing:
        """A pairing token for the app, shown once (stored hashed)."""
        self.service.require_recent(who)
        token, now = secrets.token_urlsafe(24), self._now()
        row = OneTimeChallenge(id=uuid.uuid4(), account_id=who.account_id, purpose=PAIRING,
                               secret_hash=hash_token(token), payload=json.dumps({"name": name}), created_at=now,
                               expires_at=now + self.pairing_ttl)
        session.add(row)
        return PushPairing(pairing_id=row.id, pairing_token=token, expires_at=row.expires_at)

    async def register_device(self, session: AsyncSession, pairing_token: str, public_key: str, signature: str,
                              name: str | None) -> PushDeviceRegistered:
        """The app's half of pairing: its public key and the proof it holds
        the private one. The device stays pending until the holder confirms."""
        pem = canonical_public_key(public_key)
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.secret_hash == hash_token(pairing_token),
            OneTimeChallenge.purpose == PAIRING).with_for_update())).scalar_one_or_none()
        if row is None or row.used_at is not None or row.method_id is not None or self._expired(row):
            raise PushPairingInvalid()
        if not signature_valid(pem, signature, pairing_message(pairing_token)):
            raise PushSignatureInvalid()
        device = PushDevice(account_id=row.account_id, name=name or json.loads(row.payload)["name"], public_key=pem,
                            created_at=self._now())
        session.add(device)
        await session.flush()
        row.method_id = device.id  # the token now pairs this device and no other
        return PushDeviceRegistered(device_id=device.id)

    async def confirm_pairing(self, session: AsyncSession, who: Principal, pairing_id: uuid.UUID) -> PushPaired:
        """The holder confirms, in the Manager, the device the app paired: the factor is on."""
        self.service.require_recent(who)
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == pairing_id, OneTimeChallenge.account_id == who.account_id,
            OneTimeChallenge.purpose == PAIRING).with_for_update())).scalar_one_or_none()
        if row is None or row.used_at is not None or self._expired(row):
            raise PushPairingInvalid()
        if row.method_id is None:
            raise PushPairingNotReady()
        device = await session.get(PushDevice, row.method_id)
        if device is None or device.account_id != who.account_id or device.confirmed_at is not None:
            raise PushPairingInvalid()
        row.used_at = self._now()
        codes = await self.service.enable(session, who.account_id, self, device)
        return PushPaired(method=TwoFactorMethodRead(id=device.id, kind=self.kind, name=device.name,
                                                     created_at=device.created_at), emergency_codes=codes)

    # -- the device's side of sign-in ------------------------------------------------

    async def pending_for_device(self, session: AsyncSession, device_id: uuid.UUID, timestamp: int,
                                 signature: str) -> list[PushChallengeRead]:
        """Sign-ins of the device's account waiting for an answer; the request
        is signed and fresh (within the allowed clock skew)."""
        device = await self._device(session, device_id)
        if not signature_valid(device.public_key, signature, fetch_message(device_id, timestamp)):
            raise PushSignatureInvalid()
        if abs(self._now().timestamp() - timestamp) > self.max_skew:
            raise PushRequestStale()
        rows = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.account_id == device.account_id, OneTimeChallenge.purpose == SIGN_IN,
            OneTimeChallenge.status == "pending", OneTimeChallenge.used_at.is_(None),
            OneTimeChallenge.expires_at > self._now()).order_by(OneTimeChallenge.created_at))).scalars()
        return [_read(row) for row in rows]

    async def answer(self, session: AsyncSession, challenge_id: uuid.UUID, device_id: uuid.UUID, answer: str,
                     signature: str) -> PushAnswered:
        """The device's YES/NO. A NO counts as a failed second step (IDN-04)
        and shows in the account's recent activity with the attempt's place (IDN-10)."""
        device = await self._device(session, device_id)
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == challenge_id, OneTimeChallenge.purpose == SIGN_IN,
            OneTimeChallenge.account_id == device.account_id).with_for_update())).scalar_one_or_none()
        if row is None:
            raise PushChallengeNotFound()
        payload = json.loads(row.payload)
        if not signature_valid(device.public_key, signature, answer_message(row.id, answer, payload["nonce"])):
            raise PushSignatureInvalid()
        if row.status != "pending" or row.used_at is not None or self._expired(row):
            raise PushChallengeClosed()
        now = self._now()
        row.status = "approved" if answer == "approve" else "denied"
        row.method_id, device.last_used_at = device.id, now
        if row.status == "denied":
            # counted like any wrong second step (no LoginFailed mail: that one
            # says the password was wrong); the holder sees it in the activity
            attempt = Location(ip=payload["ip"], country=payload["country"], device=payload["device"])
            ident = self.service.identity
            await ident.record_failure(session, (f"mfa:{row.account_id}", throttle.ip_key(attempt.ip)), None, attempt)
            ident.log_activity(session, row.account_id, "push_denied", attempt, now)
        return PushAnswered(challenge_id=row.id, status=row.status)

    async def _device(self, session: AsyncSession, device_id: uuid.UUID) -> PushDevice:
        device = await session.get(PushDevice, device_id)
        if device is None or device.confirmed_at is None:
            raise PushSignatureInvalid()  # an unknown device and a bad signature look alike
        return device

    # -- the waiting client's side -----------------------------------------------------

    async def request_sign_in(self, db: Database, mfa_token: str, where: Location) -> PushSignInChallenge:
        """Open a sign-in request for the account's devices (replacing this
        sign-in's previous one); refused while the second step is locked."""
        async with db.transaction() as session:
            claims = await self.service.read_claims(session, mfa_token)
            account_id = uuid.UUID(claims["sub"])
            await self.service.identity.refuse_if_throttled(session, (f"mfa:{account_id}", throttle.ip_key(where.ip)))
            devices = (await session.execute(select(PushDevice.id).where(
                PushDevice.account_id == account_id, PushDevice.confirmed_at.is_not(None)))).first()
            if devices is None:
                raise NoPushDevice()
            earlier = list((await session.execute(select(OneTimeChallenge).where(
                OneTimeChallenge.bound_to == claims["jti"], OneTimeChallenge.purpose == SIGN_IN))).scalars())
            if len(earlier) >= self.per_sign_in:
                raise TooManyPushRequests()
            now = self._now()
            for row in earlier:
                if row.status == "pending":
                    row.used_at = now
            expires = min(now + self.challenge_ttl, datetime.fromtimestamp(claims["exp"], timezone.utc))
            payload = {"nonce": secrets.token_urlsafe(16), "ip": where.ip, "country": where.country,
                       "device": where.device, "requested_at": now.isoformat()}
            row = OneTimeChallenge(id=uuid.uuid4(), account_id=account_id, purpose=SIGN_IN, bound_to=claims["jti"],
                                   payload=json.dumps(payload), created_at=now, expires_at=expires)
            session.add(row)
            return PushSignInChallenge(challenge_id=row.id, expires_at=expires)

    async def poll(self, db: Database, mfa_token: str, challenge_id: uuid.UUID, wait_seconds: int,
                   where: Location) -> TokenPair | PushPending:
        """Long poll: the tokens once the device approved (the session opens
        once), `pending` after `wait_seconds` without an answer, or an error
        when it was denied or expired (by the injected clock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            async with db.transaction() as session:
                claims = await self.service.read_claims(session, mfa_token)
                row = await self._sign_in_row(session, claims, challenge_id)
                if row.status == "approved" and row.used_at is None:
                    row.used_at = self._now()
                    return await self.service.finish_sign_in(session, claims, AMR[self.kind], where)
                waiting = row.status == "pending" and row.used_at is None and not self._expired(row)
                denied, expires_at = row.status == "denied", row.expires_at
            if denied:
                raise PushDenied()
            if not waiting:  # expired, or replaced by a newer request of this sign-in
                raise PushExpired()
            left = deadline - loop.time()
            if left <= 0:
                return PushPending(challenge_id=challenge_id, expires_at=expires_at)
            await asyncio.sleep(min(POLL_INTERVAL_SECONDS, left))

    async def _sign_in_row(self, session: AsyncSession, claims: dict, challenge_id: uuid.UUID) -> OneTimeChallenge:
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == challenge_id, OneTimeChallenge.purpose == SIGN_IN,
            OneTimeChallenge.bound_to == claims["jti"]).with_for_update())).scalar_one_or_none()
        if row is None or str(row.account_id) != claims["sub"]:
            raise PushChallengeNotFound()
        return row

    async def verify(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                     where: Location) -> bool:
        """POST /v1/sessions/mfa with method "push": the approved challenge of this sign-in, once."""
        if step.challenge_id is None:
            return False
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == step.challenge_id, OneTimeChallenge.purpose == SIGN_IN,
            OneTimeChallenge.bound_to == claims["jti"], OneTimeChallenge.account_id == account_id,
            OneTimeChallenge.status == "approved", OneTimeChallenge.used_at.is_(None)).with_for_update())
               ).scalar_one_or_none()
        if row is None:
            return False
        row.used_at = self._now()
        return True

    def _expired(self, row: OneTimeChallenge) -> bool:
        return row.expires_at <= self._now()


def _read(row: OneTimeChallenge) -> PushChallengeRead:
    p = json.loads(row.payload)
    return PushChallengeRead(challenge_id=row.id, nonce=p["nonce"], ip=p["ip"], country=p["country"],
                             device=p["device"], requested_at=datetime.fromisoformat(p["requested_at"]),
                             expires_at=row.expires_at)
