"""Request and response models of security keys (IDN-14b, api_webauthn.py)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .schemas import TwoFactorMethodRead


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebAuthnRegistrationStart(_Strict):
    name: str = Field(default="Security key", min_length=1, max_length=60)


class WebAuthnOptions(BaseModel):
    """Pass `public_key` (after decoding its base64url fields, or through
    PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON)
    to navigator.credentials.create() or .get(); it works once, until expires_at."""

    challenge_id: uuid.UUID
    public_key: dict[str, Any]
    expires_at: datetime


class WebAuthnRegistrationFinish(_Strict):
    challenge_id: uuid.UUID
    # The PublicKeyCredential from navigator.credentials.create(), as JSON
    # (credential.toJSON(): id, rawId, response.clientDataJSON/attestationObject, type).
    credential: dict[str, Any]


class WebAuthnRegistered(BaseModel):
    """The key is on. `emergency_codes` only with the account's first factor:
    shown once, keep them safe."""

    method: TwoFactorMethodRead
    emergency_codes: list[str] | None


class WebAuthnSignInOptionsRequest(_Strict):
    mfa_token: str = Field(min_length=20, max_length=2048)
