"""Which event makes which message, for whom (NTF-01).

Adding a message = templates in the five languages (rendering.py says where)
+ one entry in CATALOG. A template sees `event`, `to` (the Addressee),
`lang` and `time_zone`, and the filters `datetime`, `date`, `country`.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.events import (AccountBlocked, AccountUnblocked, EmergencyCodeUsed, Event, LoginFailed,
                                   LoginFromNewLocation, PasswordChanged, RecoveryPhoneChanged,
                                   SignUpAttemptedWithExistingEmail, TwoFactorDisabled, TwoFactorEnabled)

from . import repository as repo
from .errors import RecipientUnknown


@dataclass(frozen=True)
class Addressee:
    """Someone a message goes to, with what rendering needs."""

    key: str  # stable identity for the once-only key: account id, else the address
    address: str
    first_name: str
    language: str
    time_zone: str
    account_id: uuid.UUID | None = None
    # Event types of optional alerts this person turned off (IDN-10, NTF-05),
    # from identity's AccountPreferencesChanged.
    opted_out: frozenset[str] = field(default_factory=frozenset)


Resolver = Callable[[AsyncSession, Event], Awaitable[list[Addressee]]]


@dataclass(frozen=True)
class MessageKind:
    template: str
    recipients: Resolver
    # Mandatory messages ignore alert preferences (e.g. e-mail change confirmation).
    mandatory: bool
    channel: str = "email"

    def wanted_by(self, addressee: Addressee, event_type: str) -> bool:
        return self.mandatory or event_type not in addressee.opted_out


async def account_holder(session: AsyncSession, event: Event) -> list[Addressee]:
    """The account named by the event's `account_id`, from the local projection."""
    account_id = event.account_id  # type: ignore[attr-defined]  # the catalog pairs it with account events
    found = await repo.recipient(session, account_id)
    if found is None:
        raise RecipientUnknown(f"no contact data for account {account_id}")
    return [Addressee(key=str(found.account_id), address=found.email, first_name=found.first_name,
                      language=found.language, time_zone=found.time_zone, account_id=found.account_id,
                      opted_out=frozenset(filter(None, found.disabled_alerts.split(","))))]


CATALOG: dict[type[Event], MessageKind] = {
    LoginFromNewLocation: MessageKind("login_from_new_location", account_holder, mandatory=False),
    LoginFailed: MessageKind("login_failed", account_holder, mandatory=False),
    # The owner must hear of it even with every optional alert off.
    PasswordChanged: MessageKind("password_changed", account_holder, mandatory=True),
    RecoveryPhoneChanged: MessageKind("recovery_phone_changed", account_holder, mandatory=True),
    AccountBlocked: MessageKind("account_blocked", account_holder, mandatory=True),
    AccountUnblocked: MessageKind("account_unblocked", account_holder, mandatory=True),
    SignUpAttemptedWithExistingEmail: MessageKind("signup_attempt", account_holder, mandatory=True),
    TwoFactorEnabled: MessageKind("two_factor_enabled", account_holder, mandatory=True),
    TwoFactorDisabled: MessageKind("two_factor_disabled", account_holder, mandatory=True),
    EmergencyCodeUsed: MessageKind("emergency_code_used", account_holder, mandatory=True),
}
