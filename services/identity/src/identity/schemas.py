"""identity's request and response models."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from manager_shared.events.identity import OptionalAlert
from manager_shared.typed import TypedCode  # codes typed in full-width forms

from .addresses import StoredEmail

Language = Literal["fr", "en", "de", "it", "es"]
_ZONES = frozenset(available_timezones())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountCreate(_Strict):
    email: StoredEmail  # IDN-01: no mixed-script domain
    # NIST 800-63B: length, not composition; long passphrases allowed.
    password: str = Field(min_length=8, max_length=256)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    language: Language = "en"
    time_zone: str = "Europe/Zurich"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v not in _ZONES:
            raise ValueError("unknown IANA time zone")
        return v


class Preferences(BaseModel):
    """Language, time zone and the optional security alerts (IDN-10, IDN-11).
    Codes, e-mail change confirmations and blocking notices always go."""

    language: Language
    time_zone: str
    alerts: dict[OptionalAlert, bool]


class PreferencesUpdate(_Strict):
    language: Language | None = None
    time_zone: str | None = None
    alerts: dict[OptionalAlert, bool] | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None and v not in _ZONES:
            raise ValueError("unknown IANA time zone")
        return v


class AccountCreated(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str = "If this address can be used, the account is ready: sign in with it."


class AccountRead(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    language: Language
    time_zone: str
    recovery_email: str | None
    recovery_phone: str | None
    created_at: datetime


class SignIn(_Strict):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    # False = "sign in at every browser start": the session ends with the
    # browser, the refresh token is short-lived and not meant to be stored.
    persistent: bool = True


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    session_id: uuid.UUID


class PasswordChange(_Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=1024)  # the policy gives the precise reason


class RecoveryPhoneUpdate(_Strict):
    password: str = Field(min_length=1, max_length=256)
    # With its country prefix, e.g. "+41 79 123 45 67"; null removes it.
    phone: str | None = Field(default=None, max_length=32)


class Reauthenticate(_Strict):
    password: str = Field(min_length=1, max_length=256)


class Refresh(_Strict):
    refresh_token: str = Field(min_length=16, max_length=128)


class ActivityRead(BaseModel):
    id: int
    kind: str
    ip: str | None
    country: str | None
    device: str | None
    at: datetime


class ActivityPage(BaseModel):
    items: list[ActivityRead]
    # Pass as `before` to get the next (older) page; null on the last page.
    next_before: int | None


class SessionRead(BaseModel):
    id: uuid.UUID
    created_at: datetime
    auth_time: datetime
    ip: str
    country: str | None
    device: str
    persistent: bool
    current: bool


class SupportCode(BaseModel):
    code: str  # read it out to support; valid once, until expires_at
    expires_at: datetime


class SupportVerify(_Strict):
    email: EmailStr
    code: TypedCode = Field(min_length=8, max_length=12)


class SupportVerified(BaseModel):
    account_id: uuid.UUID
    email: str


class BlockChange(_Strict):
    # The support code check, ticket number or incident the decision rests on.
    reason: str = Field(min_length=10, max_length=500)


class AccountStatus(BaseModel):
    account_id: uuid.UUID
    status: Literal["active", "blocked"]


class MfaChallenge(BaseModel):
    """The password was right and the account has 2FA: finish with
    POST /v1/sessions/mfa within 5 minutes."""

    mfa_required: Literal[True] = True
    mfa_token: str
    methods: list[str]


FactorName = Literal["totp", "webauthn", "sms", "push"]


class MfaStep(_Strict):
    """The second step of sign-in: the mfa_token and the proof of one method.
    `method` defaults to totp (a `code`), or emergency_code when that is given."""

    mfa_token: str = Field(min_length=20, max_length=2048)
    method: Literal["totp", "webauthn", "sms", "push", "emergency_code"] | None = None
    code: TypedCode | None = Field(default=None, max_length=10)
    emergency_code: TypedCode | None = Field(default=None, max_length=40)
    # WebAuthn: the PublicKeyCredential JSON from navigator.credentials.get()
    webauthn: dict | None = None
    # SMS / push: the challenge the code was sent for or the device was asked about
    challenge_id: uuid.UUID | None = None


class TotpStart(_Strict):
    name: str = Field(default="Authenticator app", min_length=1, max_length=60)


class TotpEnrolment(BaseModel):
    """Shown once: add it to the app (scan the QR code), then confirm with a code."""

    id: uuid.UUID
    secret: str
    provisioning_uri: str
    qr_svg: str


class TotpConfirm(_Strict):
    code: TypedCode = Field(min_length=6, max_length=6)


class EmergencyCodes(BaseModel):
    """Shown once: keep them safe; each works once in place of the app."""

    emergency_codes: list[str] | None


class TwoFactorMethodRead(BaseModel):
    id: uuid.UUID
    kind: FactorName
    name: str
    created_at: datetime


class MethodRename(_Strict):
    name: str = Field(min_length=1, max_length=60)


class AppPasswordCreate(_Strict):
    name: str = Field(min_length=1, max_length=60, description='Which client uses it, e.g. "Thunderbird laptop".')


class AppPasswordRead(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


class AppPasswordIssued(AppPasswordRead):
    """Shown once: type it into the sync client instead of the account password."""

    password: str


class SyncCredentials(_Strict):
    login: str = Field(min_length=3, max_length=254)
    password: TypedCode = Field(min_length=1, max_length=128)


class SyncIdentity(BaseModel):
    """The app password is valid: the sync client acts for this account."""

    account_id: uuid.UUID
    app_password_id: uuid.UUID
    amr: list[str] = ["app_password"]


class TwoFactorReset(_Strict):
    # The support ticket or incident the reset rests on (kept in the activity).
    reason: str = Field(min_length=10, max_length=500)
