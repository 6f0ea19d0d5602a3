"""Event contracts: every event any service publishes, defined once.

`parse_event` turns bytes from Kafka into the right model; `ALL_EVENTS` is the
registry the contract-snapshot test and the AsyncAPI docs are built from.
"""
from __future__ import annotations

import json
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from .base import Event, utcnow
from .billing import BillingAccountOpened
from .identity import (AccountBlocked, AccountPreferencesChanged, AccountRegistered, AccountUnblocked,
                       EmergencyCodeUsed, LoginFailed, LoginFromNewLocation, PasswordChanged, RecoveryPhoneChanged,
                       SignUpAttemptedWithExistingEmail, TwoFactorDisabled, TwoFactorEnabled)
from .organizations import MemberAdded, OrganizationCreated

ALL_EVENTS: tuple[type[Event], ...] = (
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
    OrganizationCreated,
    MemberAdded,
    BillingAccountOpened,
)
EVENTS_BY_TYPE: dict[str, type[Event]] = {e.model_fields["type"].default: e for e in ALL_EVENTS}
TOPICS: tuple[str, ...] = tuple(sorted({e.topic for e in ALL_EVENTS}))

_AnyEvent = TypeAdapter(Annotated[Union[ALL_EVENTS], Field(discriminator="type")])  # type: ignore[valid-type]


class UnknownEventType(ValueError):
    """A well-formed envelope whose type this build does not know (a newer
    producer); consumers skip it rather than dead-letter it."""


def parse_event(raw: bytes | str) -> Event:
    """Parse one message body; raises ValueError (incl. pydantic's
    ValidationError) for malformed input, UnknownEventType for new types."""
    data = json.loads(raw)
    if isinstance(data, dict) and isinstance(data.get("type"), str) and data["type"] not in EVENTS_BY_TYPE:
        raise UnknownEventType(data["type"])
    return _AnyEvent.validate_python(data)


__all__ = [
    "ALL_EVENTS", "EVENTS_BY_TYPE", "TOPICS", "Event", "UnknownEventType", "parse_event", "utcnow",
    "AccountRegistered", "LoginFromNewLocation", "LoginFailed", "AccountPreferencesChanged", "PasswordChanged", "RecoveryPhoneChanged", "AccountBlocked", "AccountUnblocked",
    "SignUpAttemptedWithExistingEmail", "TwoFactorEnabled", "TwoFactorDisabled", "EmergencyCodeUsed",
    "OrganizationCreated", "MemberAdded",
    "BillingAccountOpened",
]
