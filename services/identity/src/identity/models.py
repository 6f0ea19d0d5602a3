"""identity's tables (SQLModel, own registry so services never share metadata)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from manager_shared.access import blocked_accounts_table
from manager_shared.db import UtcDateTime, event_tables


class Base(SQLModel, registry=registry()):
    pass


def _tz() -> UtcDateTime:
    return UtcDateTime()


class Account(Base, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254)
    # Lower-cased copy with the unique index: uniqueness is case-insensitive.
    email_normalized: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=False)
    password_hash: str = Field(max_length=255)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    language: str = Field(max_length=2)
    time_zone: str = Field(max_length=64)
    recovery_email: str | None = Field(default=None, max_length=254)
    recovery_phone: str | None = Field(default=None, max_length=20)
    status: str = Field(default="active", max_length=16)
    # IDN-17: short-lived code the user reads to support; stored hashed.
    support_code_hash: str | None = Field(default=None, max_length=64)
    support_code_expires_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    # Optional security alerts turned off (event type names, comma-separated).
    disabled_alerts: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    # Confirmed second factors (kept by two_factor.py): sign-in skips the
    # per-kind lookups for the many accounts without 2FA.
    second_factors: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    version: int = 1
    created_at: datetime = Field(sa_type=_tz())
    updated_at: datetime = Field(sa_type=_tz())


class KnownLocation(Base, table=True):
    """A (country, device) pair this account has signed in from (IDN-07)."""

    __tablename__ = "known_location"
    __table_args__ = (sa.UniqueConstraint("account_id", "country", "device", name="uq_known_location"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    country: str = Field(max_length=2)  # "??" when the address has no country (private ranges)
    device: str = Field(max_length=120)
    first_seen_at: datetime = Field(sa_type=_tz())
    last_seen_at: datetime = Field(sa_type=_tz())


class SignInSession(Base, table=True):
    """A signed-in session; access tokens carry its id as `sid`."""

    __tablename__ = "signin_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    auth_time: datetime = Field(sa_type=_tz())
    amr: str = Field(default="pwd", max_length=64)
    persistent: bool = True
    ip: str = Field(max_length=45)
    country: str | None = Field(default=None, max_length=2)
    device: str = Field(max_length=120)
    created_at: datetime = Field(sa_type=_tz())
    expires_at: datetime = Field(sa_type=_tz())
    revoked_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class RefreshToken(Base, table=True):
    """Rotating refresh tokens, stored as SHA-256 only. Presenting one that
    was already used revokes the whole session (token theft)."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="signin_session.id", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=_tz())
    expires_at: datetime = Field(sa_type=_tz(), index=True)
    used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class Activity(Base, table=True):
    """Recent security activity of an account (IDN-10), newest first by id."""

    __table_args__ = (sa.Index("ix_activity_account_id_id", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id")
    kind: str = Field(max_length=40)  # sign_in, sign_in_failed, password_changed, preferences_changed, ...
    ip: str | None = Field(default=None, max_length=45)
    country: str | None = Field(default=None, max_length=2)
    device: str | None = Field(default=None, max_length=120)
    at: datetime = Field(sa_type=_tz(), index=True)


class TotpMethod(Base, table=True):
    """An authenticator app (IDN-14a). `last_step` is the durable replay
    record: a code is accepted only for a later time step than the last one."""

    __tablename__ = "totp_method"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=60)
    secret: str = Field(max_length=64)  # base32, 160 bits
    created_at: datetime = Field(sa_type=_tz())
    confirmed_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    last_step: int = 0


class EmergencyCode(Base, table=True):
    """One-time backup codes (IDN-14), stored as SHA-256 only."""

    __tablename__ = "emergency_code"

    id: int | None = Field(default=None, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    code_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class WebAuthnCredential(Base, table=True):
    """A security key (IDN-14b), registered with the `webauthn` package.
    `sign_count` is the authenticator's counter: a lower one means a clone."""

    __tablename__ = "webauthn_credential"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=60)
    credential_id: str = Field(max_length=1400, sa_column_kwargs={"unique": True})  # base64url
    public_key: bytes = Field(sa_type=sa.LargeBinary)  # COSE
    sign_count: int = 0
    transports: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=_tz())
    confirmed_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    last_used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class SmsMethod(Base, table=True):
    """SMS codes as a second factor (IDN-14c): a CH, FR, BE or DE mobile, E.164."""

    __tablename__ = "sms_method"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=60)
    phone: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=_tz())
    confirmed_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    last_used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class PushDevice(Base, table=True):
    """The provider's mobile app on one device (IDN-14d): it signs its YES/NO
    answers with the private key that never leaves it; we keep the public key."""

    __tablename__ = "push_device"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=60)
    public_key: str = Field(sa_type=sa.Text)  # PEM (SubjectPublicKeyInfo)
    created_at: datetime = Field(sa_type=_tz())
    confirmed_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    last_used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class OneTimeChallenge(Base, table=True):
    """A pending proof: a code sent by SMS or e-mail (sign-in, enrolment,
    password reset, e-mail change), a WebAuthn challenge or a push approval.
    Codes are stored only as a keyed hash; each row works once (`used_at`)."""

    __tablename__ = "one_time_challenge"
    __table_args__ = (sa.Index("ix_one_time_challenge_account_purpose", "account_id", "purpose"),
                      sa.Index("ix_one_time_challenge_destination", "destination", "created_at"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id")
    purpose: str = Field(max_length=32)
    secret_hash: str | None = Field(default=None, max_length=64)
    payload: str = Field(default="{}", sa_type=sa.Text)  # JSON: e.g. the new e-mail, WebAuthn state
    bound_to: str | None = Field(default=None, max_length=64)  # jti of the mfa token it belongs to
    # Keyed hash of the phone number or address the code went to: budgets of
    # codes per destination (SMS pumping, mail bombing), codes.py.
    destination: str | None = Field(default=None, max_length=64)
    method_id: uuid.UUID | None = None
    attempts: int = 0
    status: str = Field(default="pending", max_length=16)  # pending, approved, denied
    created_at: datetime = Field(sa_type=_tz())
    expires_at: datetime = Field(sa_type=_tz(), index=True)
    used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class AppPassword(Base, table=True):
    """A password for one sync client (IDN-15): random, shown once, stored
    as SHA-256 only; it never opens a Manager session."""

    __tablename__ = "app_password"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=60)
    secret_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(sa_type=_tz())
    last_used_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class ConsumedToken(Base, table=True):
    """Single-use tokens already spent (the second-step `mfa_token`), kept
    until they would have expired anyway."""

    __tablename__ = "consumed_token"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=_tz(), index=True)


class SigninThrottle(Base, table=True):
    """Failed sign-in tally of one key (hashed e-mail or source address), IDN-04."""

    __tablename__ = "signin_throttle"

    key: str = Field(primary_key=True, max_length=64)
    consecutive: int = 0
    hour_start: datetime | None = Field(default=None, sa_type=_tz(), nullable=True, index=True)
    in_hour: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    # Last LoginFailed alert for this key: at most one per alert window (IDN-08).
    alerted_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)
    # Attempts admitted and still being evaluated (attempts.py, IDN-04), and
    # when the last was admitted: a count left by a crashed process is stale.
    pending: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    pending_since: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class SigningKey(Base, table=True):
    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    private_pem: str
    created_at: datetime = Field(sa_type=_tz())
    active: bool = True


outbox_table, inbox_table = event_tables(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
