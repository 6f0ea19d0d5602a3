"""Request and response models of SMS codes (IDN-14c), password reset
(IDN-13), login and recovery e-mail changes (IDN-06)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from manager_shared.typed import TypedCode  # codes typed in full-width forms

from .addresses import StoredEmail


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- SMS second factor ------------------------------------------------------------

class SmsStart(_Strict):
    # With its country prefix, e.g. "+41 79 123 45 67"; a CH, FR, BE or DE mobile.
    phone: str = Field(min_length=1, max_length=32)
    # printable: PostgreSQL text refuses NUL (a 500 otherwise)
    name: str | None = Field(default=None, min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$")


class SmsEnrolment(BaseModel):
    """The number is pending: confirm it with the code sent to it."""

    id: uuid.UUID
    sent_to: str  # e.g. "+41 ••• •• 67"
    challenge_id: uuid.UUID
    expires_at: datetime


class SmsConfirm(_Strict):
    code: TypedCode = Field(min_length=6, max_length=16)


class SmsSignInCode(_Strict):
    """Ask for a sign-in code by SMS (second step of sign-in)."""

    mfa_token: str = Field(min_length=20, max_length=2048)
    # Which SMS factor, when the account has several; the oldest otherwise.
    method_id: uuid.UUID | None = None


class SmsChallenge(BaseModel):
    """A code was sent: finish with POST /v1/sessions/mfa
    {mfa_token, method: "sms", challenge_id, code} before expires_at."""

    challenge_id: uuid.UUID
    sent_to: str
    expires_at: datetime


# -- password reset ------------------------------------------------------------------

class PasswordResetRequest(_Strict):
    email: EmailStr
    # "email": to the recovery e-mail (else the login e-mail); "sms": to the
    # recovery mobile (by e-mail when the account has none that takes SMS).
    channel: Literal["email", "sms"] = "email"


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


class SecondFactorProof(_Strict):
    """Proof of one second factor, as in POST /v1/sessions/mfa: a TOTP code,
    an SMS code (challenge from POST /v1/password-reset/sms-code) or an
    emergency code. (Security keys and push have no reset-bound challenge yet.)"""

    method: Literal["totp", "sms", "emergency_code"]
    code: TypedCode | None = Field(default=None, max_length=10)
    emergency_code: TypedCode | None = Field(default=None, max_length=40)
    challenge_id: uuid.UUID | None = None


class PasswordResetConfirm(_Strict):
    email: EmailStr
    code: TypedCode = Field(min_length=6, max_length=16)
    new_password: str = Field(min_length=1, max_length=1024)  # the policy gives the precise reason
    # Required when the account has 2FA (answer 403 second_factor_required otherwise).
    second_factor: SecondFactorProof | None = None


class PasswordResetSmsCode(_Strict):
    """With a valid reset code, have the sign-in SMS factor send a code (2FA accounts)."""

    email: EmailStr
    code: TypedCode = Field(min_length=6, max_length=16)
    method_id: uuid.UUID | None = None


# -- login and recovery e-mail ---------------------------------------------------------

class LoginEmailChange(_Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_email: StoredEmail
    new_email_repeat: EmailStr


class LoginEmailChangePending(BaseModel):
    status: Literal["pending"] = "pending"
    message: str = ("Enter the code sent to the new address to make it your login; until then the "
                    "current one stays.")
    expires_at: datetime


class CodeConfirm(_Strict):
    code: TypedCode = Field(min_length=6, max_length=16)


class LoginEmailRead(BaseModel):
    email: str  # the current login
    pending_email: str | None = None  # waiting for its code
    pending_expires_at: datetime | None = None


class RecoveryEmailUpdate(_Strict):
    password: str = Field(min_length=1, max_length=256)
    recovery_email: StoredEmail | None = None  # null removes it


class RecoveryEmailRead(BaseModel):
    recovery_email: str | None
