"""Request and response models of push approval (IDN-14d, api_push.py).

Signatures are base64url (padding optional): ECDSA P-256 with SHA-256 (DER)
or Ed25519, by the key the device registered, over the UTF-8 messages that
factor_push.py documents."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import TwoFactorMethodRead

_B64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PushPairingStart(_Strict):
    name: str = Field(default="Mobile app", min_length=1, max_length=60)


class PushPairing(BaseModel):
    """Show `pairing_token` to the app (as a QR code); it works once, until
    expires_at. Then confirm the pairing with `pairing_id`."""

    pairing_id: uuid.UUID
    pairing_token: str
    expires_at: datetime


class PushDeviceRegister(_Strict):
    pairing_token: str = Field(min_length=20, max_length=64)
    # SubjectPublicKeyInfo PEM of an EC P-256 or Ed25519 key made on the device.
    public_key: str = Field(min_length=50, max_length=1000)
    # Proof of possession: signature over "manager-push-pair\n" + pairing_token.
    signature: str = Field(min_length=16, max_length=200, pattern=_B64URL)
    name: str | None = Field(default=None, min_length=1, max_length=60)


class PushDeviceRegistered(BaseModel):
    """The device is known; it answers sign-ins once the account holder has
    confirmed the pairing in the Manager."""

    device_id: uuid.UUID
    status: Literal["awaiting_confirmation"] = "awaiting_confirmation"


class PushPaired(BaseModel):
    """The device is a second factor. `emergency_codes` only with the
    account's first factor: shown once, keep them safe."""

    method: TwoFactorMethodRead
    emergency_codes: list[str] | None


class PushDeviceFetch(_Strict):
    # Unix seconds; signature over "manager-push-fetch\n{device_id}\n{timestamp}".
    timestamp: int = Field(ge=0, le=2**40)
    signature: str = Field(min_length=16, max_length=200, pattern=_B64URL)


class PushChallengeRead(BaseModel):
    """A sign-in waiting for the device's YES/NO, with where it comes from.
    The answer's signature covers `nonce`."""

    challenge_id: uuid.UUID
    nonce: str
    ip: str | None
    country: str | None
    device: str | None
    requested_at: datetime
    expires_at: datetime


class PushAnswer(_Strict):
    device_id: uuid.UUID
    answer: Literal["approve", "deny"]
    # Signature over "manager-push-answer\n{challenge_id}\n{answer}\n{nonce}".
    signature: str = Field(min_length=16, max_length=200, pattern=_B64URL)


class PushAnswered(BaseModel):
    challenge_id: uuid.UUID
    status: Literal["approved", "denied"]


class PushSignInRequest(_Strict):
    mfa_token: str = Field(min_length=20, max_length=2048)


class PushSignInChallenge(BaseModel):
    """Sent to the account's devices: poll it with the mfa_token until the
    app answers or it expires."""

    challenge_id: uuid.UUID
    expires_at: datetime


class PushPoll(_Strict):
    mfa_token: str = Field(min_length=20, max_length=2048)
    challenge_id: uuid.UUID
    # Long poll: wait up to this long for the answer before replying "pending".
    wait_seconds: int = Field(default=0, ge=0, le=25)


class PushPending(BaseModel):
    status: Literal["pending"] = "pending"
    challenge_id: uuid.UUID
    expires_at: datetime
