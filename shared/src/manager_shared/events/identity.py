"""Events published by identity on `identity.account.v1` (key: account id)."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from ..sealing import SealedSecret
from .base import Event

Language = Literal["fr", "en", "de", "it", "es"]
# Security alerts an account may turn off (IDN-10); every other message is mandatory.
OptionalAlert = Literal["LoginFromNewLocation", "LoginFailed"]


class _AccountEvent(Event):
    topic: ClassVar[str] = "identity.account.v1"
    producer_name: ClassVar[str] = "identity"
    key_field: ClassVar[str] = "account_id"

    account_id: UUID
    # Revision of the account aggregate after this change: projections keep
    # the highest one seen, so a late or repeated event cannot roll them back.
    account_version: int


class AccountRegistered(_AccountEvent):
    """Sent when a new account has been created (IDN-01, IDN-02).

    organizations creates the personal organization from it; notifications
    starts its projection of the account's contact data.
    """

    type: Literal["AccountRegistered"] = "AccountRegistered"
    email: str
    first_name: str
    last_name: str
    language: Language
    time_zone: str


class LoginFromNewLocation(_AccountEvent):
    """Sent after a successful sign-in from a place or device never seen before
    for this account (IDN-07); notifications sends the security e-mail."""

    type: Literal["LoginFromNewLocation"] = "LoginFromNewLocation"
    ip: str
    country: str | None
    city: str | None = None
    device: str
    login_at: datetime


class LoginFailed(_AccountEvent):
    """Sent when a wrong password was typed for this account's login (IDN-08),
    at most once per alert window however many attempts follow; notifications
    sends the security e-mail. `attempts` counts failures since the last alert."""

    type: Literal["LoginFailed"] = "LoginFailed"
    ip: str
    country: str | None
    device: str
    attempts: int
    failed_at: datetime


class AccountPreferencesChanged(_AccountEvent):
    """Sent when the account changed its language, time zone or the optional
    security alerts it receives (IDN-10, IDN-11); carries the full current
    preferences, so a consumer needs no earlier state."""

    type: Literal["AccountPreferencesChanged"] = "AccountPreferencesChanged"
    language: Language
    time_zone: str
    disabled_alerts: list[OptionalAlert]


class PasswordChanged(_AccountEvent):
    """Sent when the account's password was changed by its owner (IDN-05);
    every other session was signed out. notifications always tells the owner."""

    type: Literal["PasswordChanged"] = "PasswordChanged"
    # "changed" by the owner while signed in, or "reset" through recovery (IDN-13)
    reason: Literal["changed", "reset"] = "changed"
    ip: str
    country: str | None
    device: str
    changed_at: datetime


class RecoveryPhoneChanged(_AccountEvent):
    """Sent when the recovery mobile number was set, replaced or removed
    (IDN-12). Only the last digits travel: the number itself stays in identity."""

    type: Literal["RecoveryPhoneChanged"] = "RecoveryPhoneChanged"
    phone_hint: str | None  # e.g. "+41 ••• •• 67"; None when removed
    ip: str
    country: str | None
    device: str
    changed_at: datetime


class AccountBlocked(_AccountEvent):
    """Sent when support blocked the account after a security incident
    (IDN-18): every service must refuse its still-valid access tokens at once."""

    type: Literal["AccountBlocked"] = "AccountBlocked"
    reason: str
    blocked_at: datetime


class AccountUnblocked(_AccountEvent):
    """Sent when support lifted the block (IDN-18)."""

    type: Literal["AccountUnblocked"] = "AccountUnblocked"
    unblocked_at: datetime


class SessionsEnded(_AccountEvent):
    """Sent when sign-in sessions of the account ended before their time
    (IDN-03, IDN-18, ASVS 7.4): signed out, revoked by the owner, ended by a
    reused refresh token, by a password change or reset, or by a block. Every
    service refuses access tokens whose `sid` is in `session_ids` from then on
    (401 `session_ended`) instead of until they expire. Only sessions whose
    access tokens may still be valid are listed; a long list comes in several
    events. `account_version` is the account's revision at that moment."""

    type: Literal["SessionsEnded"] = "SessionsEnded"
    session_ids: list[UUID]
    reason: Literal["signed_out", "revoked", "refresh_token_reused", "password_changed", "password_reset",
                    "blocked"]
    ended_at: datetime


class SignUpAttemptedWithExistingEmail(_AccountEvent):
    """Sent when someone tried to create an account with this account's login
    e-mail (IDN-01): the sign-up answers as for a new address, so only the
    owner learns of it, by e-mail; at most once per alert window."""

    type: Literal["SignUpAttemptedWithExistingEmail"] = "SignUpAttemptedWithExistingEmail"
    ip: str
    country: str | None
    device: str
    attempted_at: datetime


class TwoFactorEnabled(_AccountEvent):
    """Sent when the account has a (new) confirmed second factor (IDN-14);
    `methods` is the current count, so organizations' 2FA policy (ORG-11)
    needs no earlier state."""

    type: Literal["TwoFactorEnabled"] = "TwoFactorEnabled"
    method: Literal["totp", "webauthn", "sms", "push"]
    methods: int
    changed_at: datetime


class TwoFactorDisabled(_AccountEvent):
    """Sent when a second factor was removed; `methods` = 0 means 2FA is off.
    `by_support` marks a reset by support after the owner proved identity
    (IDN-16/17): every method went at once."""

    type: Literal["TwoFactorDisabled"] = "TwoFactorDisabled"
    method: Literal["totp", "webauthn", "sms", "push", "all"]
    methods: int
    by_support: bool = False
    changed_at: datetime


class EmergencyCodeUsed(_AccountEvent):
    """Sent when an emergency (backup) code replaced the second factor at
    sign-in (IDN-14); the owner is told, with how many codes are left."""

    type: Literal["EmergencyCodeUsed"] = "EmergencyCodeUsed"
    remaining: int
    ip: str
    country: str | None
    device: str
    used_at: datetime


class SmsCodeRequested(_AccountEvent):
    """Sent when identity needs a one-time code delivered by SMS (IDN-13,
    IDN-14c): a second-factor sign-in, confirming a new SMS factor, or a
    password reset. notifications sends it through the SMS gateway and never
    logs `code`; it is mandatory (no preference turns it off). The code is
    valid until `expires_at` and works once."""

    type: Literal["SmsCodeRequested"] = "SmsCodeRequested"
    phone: str  # E.164, of CH, FR, BE or DE
    code: SealedSecret  # sealed to notifications' key (X-06)
    purpose: Literal["sign_in", "enrolment", "password_reset"]
    expires_at: datetime


class LoginEmailChangeRequested(_AccountEvent):
    """Sent when the owner asked to change the login e-mail (IDN-06): the
    change waits for `code` sent to `new_email` (mandatory mail, never logged);
    `old_email` gets a notice that a change was asked."""

    type: Literal["LoginEmailChangeRequested"] = "LoginEmailChangeRequested"
    old_email: str
    new_email: str
    code: SealedSecret  # sealed to notifications' key (X-06)
    expires_at: datetime


class LoginEmailChanged(_AccountEvent):
    """Sent when the new login e-mail was confirmed and is now the account's
    login (IDN-06). Projections of the account's contact data switch to
    `new_email`; notifications tells `old_email`."""

    type: Literal["LoginEmailChanged"] = "LoginEmailChanged"
    old_email: str
    new_email: str
    changed_at: datetime


class PasswordResetRequested(_AccountEvent):
    """Sent when someone asked to reset this account's password with the
    recovery (or login) e-mail (IDN-13): notifications mails `code` to `email`
    (mandatory, never logged). The reset by SMS uses SmsCodeRequested."""

    type: Literal["PasswordResetRequested"] = "PasswordResetRequested"
    email: str
    code: SealedSecret  # sealed to notifications' key (X-06)
    expires_at: datetime
    ip: str
    country: str | None
    device: str


class AppPasswordCreated(_AccountEvent):
    """Sent when the owner created an application password for a sync client
    (IDN-15); notifications tells the owner (an unexpected one means trouble)."""

    type: Literal["AppPasswordCreated"] = "AppPasswordCreated"
    app_password_id: UUID
    name: str
    created_at: datetime


class AppPasswordRevoked(_AccountEvent):
    """Sent when an application password was revoked (IDN-15); sync servers
    that cache app-password checks drop theirs."""

    type: Literal["AppPasswordRevoked"] = "AppPasswordRevoked"
    app_password_id: UUID
    revoked_at: datetime



class RecoveryEmailChanged(_AccountEvent):
    """Sent when the recovery e-mail was set, replaced or removed (IDN-12/13):
    notifications tells the owner at the login address (and the old recovery
    address, if any), since a changed recovery address is how accounts are
    taken over. Only a masked hint of the new address travels."""

    type: Literal["RecoveryEmailChanged"] = "RecoveryEmailChanged"
    old_recovery_email: str | None
    recovery_email_hint: str | None  # e.g. "m•••@example.ch"; None when removed
    ip: str
    country: str | None
    device: str
    changed_at: datetime


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    AccountRegistered,
    LoginFromNewLocation,
    LoginFailed,
    AccountPreferencesChanged,
    PasswordChanged,
    RecoveryPhoneChanged,
    AccountBlocked,
    AccountUnblocked,
    SignUpAttemptedWithExistingEmail,
    TwoFactorEnabled,
    TwoFactorDisabled,
    EmergencyCodeUsed,
    SmsCodeRequested,
    LoginEmailChangeRequested,
    LoginEmailChanged,
    PasswordResetRequested,
    AppPasswordCreated,
    AppPasswordRevoked,
    RecoveryEmailChanged,
    SessionsEnded,
)
__all__ = [e.__name__ for e in EVENTS]
