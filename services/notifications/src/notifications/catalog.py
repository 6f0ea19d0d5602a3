"""Which event makes which messages, for whom, on which channel (NTF-01).

Adding a message = templates in the five languages (rendering.py says where)
+ one line in CATALOG naming the event, the template and a recipient rule
from this file (the account holder, an address carried by the event, the
members of an organization...). A test fails if a message lacks a language.

A template sees `event`, `to` (the Addressee), `organization_name`, `lang`
and `time_zone`, and the filters `datetime`, `date`, `time`, `money`,
`country`, `hint` and `label` (labels.py). A kind may also take files from
its event to attach (attachments.py).
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.events import (AccountBlocked, AccountUnblocked, AppPasswordCreated, BankPaymentAssigned,
                                   BankPaymentUnmatched, CreditNoteIssued, EmergencyCodeUsed, Event,
                                   InvitationCreated, InvoiceCancelled, InvoiceIssued, InvoicePaid, InvoicesExported,
                                   LoginEmailChangeRequested, LoginEmailChanged, LoginFailed, LoginFromNewLocation,
                                   MemberRemoved, OrganizationDeleted, OrganizationDetailsChanged, PasswordChanged,
                                   PasswordResetRequested, PaymentActionRequired, PaymentCompleted, PaymentFailed,
                                   PrepaidTopUpCredited, PrepaidWithdrawalCompleted, PrepaidWithdrawalFailed,
                                   ProductLocked, ProductUnlocked, RecoveryEmailChanged, RecoveryPhoneChanged,
                                   RenewalDue, SecurityAlertRequested, SignUpAttemptedWithExistingEmail,
                                   SmsCodeRequested, SubscriptionRenewed, TwoFactorDisabled, TwoFactorEnabled,
                                   TwoFactorPolicyChanged)

from . import repository as repo
from .attachments import Attachment
from .errors import RecipientUnknown
from .models import Recipient

# Accounts the events of the batch being handled name: looked up together at
# the first lookup (one query per batch instead of one per event).
EXPECTED_ACCOUNTS: ContextVar[frozenset[uuid.UUID]] = ContextVar("expected_accounts", default=frozenset())
RECIPIENT_CACHE = "notifications_recipients"

# Roles that run an organization (ORG-02): they hear about its security and details.
MANAGING_ROLES = frozenset({"legal_representative", "administrator"})


@dataclass(frozen=True)
class Addressee:
    """Someone a message goes to, with what rendering needs."""

    key: str  # stable identity for the once-only key: account id, else the address
    address: str  # e-mail address, or E.164 number for an SMS
    first_name: str
    language: str
    time_zone: str
    account_id: uuid.UUID | None = None
    # Event types of optional alerts this person turned off (IDN-10, NTF-05),
    # from identity's AccountPreferencesChanged.
    opted_out: frozenset[str] = field(default_factory=frozenset)


@dataclass
class Directory:
    """What recipient rules may read: the local projections (never another
    service) and the defaults for someone without an account."""

    session: AsyncSession
    default_language: str = "en"
    default_time_zone: str = "Europe/Zurich"
    operator_email: str = ""  # billing's operators (NTF-01); empty: they are not mailed
    operator_language: str = "en"

    async def account(self, account_id: uuid.UUID) -> Recipient | None:
        """From the transaction's cache, filled for the whole batch at the first miss;
        projection changes in the same transaction drop their entry (see service.py)."""
        cache = self.session.info.setdefault(RECIPIENT_CACHE, {})
        if account_id not in cache:
            wanted = {account_id} | {a for a in EXPECTED_ACCOUNTS.get() if a not in cache}
            found = await repo.recipients(self.session, wanted)
            cache.update({a: found.get(a) for a in wanted})
        return cache[account_id]

    async def account_by_address(self, address: str) -> Recipient | None:
        return await repo.recipient_by_email(self.session, address)

    async def members(self, organization_id: uuid.UUID, roles: Iterable[str] | None = None,
                      two_factor: bool | None = None) -> list[uuid.UUID]:
        return await repo.member_ids(self.session, organization_id, roles, two_factor)

    async def billing_contacts(self, organization_id: uuid.UUID) -> list[uuid.UUID]:
        return await repo.billing_contact_ids(self.session, organization_id, MANAGING_ROLES)

    def holder(self, found: Recipient) -> Addressee:
        return Addressee(key=str(found.account_id), address=found.email, first_name=found.first_name,
                         language=found.language, time_zone=found.time_zone, account_id=found.account_id,
                         opted_out=frozenset(filter(None, found.disabled_alerts.split(","))))

    async def known_account(self, account_id: uuid.UUID) -> Addressee:
        found = await self.account(account_id)
        if found is None:  # the event is retried, then dead-lettered: never dropped (NTF-04)
            raise RecipientUnknown(f"no contact data for account {account_id}")
        return self.holder(found)


Resolver = Callable[[Directory, Event], Awaitable[list[Addressee]]]


@dataclass(frozen=True)
class MessageKind:
    template: str
    recipients: Resolver
    # Mandatory messages ignore alert preferences (codes, e-mail change, blocking...).
    mandatory: bool = True
    channel: str = "email"
    # The body carries a one-time code: erased from the log once delivered, never logged.
    secret: bool = False
    # Files taken from the event and mailed with the message (erased once delivered).
    attachments: Callable[[Event], list[Attachment]] | None = None
    # False for copies to operators: not shown in the organization's delivery log.
    in_organization_log: bool = True
    # Held back for the service's delay of that name (a setting), and cancelled
    # if an event in SETTLES names the same `ref` before it is sent: a message
    # that is only sent while it is still true (a reminder, an unpaid invoice).
    delay: str | None = None
    ref: Callable[[Event], str] | None = None

    def wanted_by(self, addressee: Addressee, event_type: str) -> bool:
        return self.mandatory or event_type not in addressee.opted_out


# --- recipient rules ---------------------------------------------------------

async def account_holder(directory: Directory, event: Event) -> list[Addressee]:
    """The account named by the event's `account_id`, from the local projection."""
    return [await directory.known_account(event.account_id)]  # type: ignore[attr-defined]


def address_in(field_name: str) -> Resolver:
    """The e-mail address in `event.<field_name>` (e.g. a new login address not
    yet in any projection), in the language of the event's account if known,
    else of the account with that address, else the default."""
    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        address = getattr(event, field_name)
        if not address:  # e.g. no previous recovery address
            return []
        account_id = getattr(event, "account_id", None)
        found = (await directory.account(account_id) if account_id else None) \
            or await directory.account_by_address(address)
        language = getattr(event, "language", None) or (found.language if found else directory.default_language)
        return [Addressee(key=address.strip().lower(), address=address,
                          first_name=found.first_name if found else "", language=language,
                          time_zone=found.time_zone if found else directory.default_time_zone,
                          account_id=account_id or (found.account_id if found else None))]
    resolve.__name__ = f"address_in_{field_name}"
    return resolve


def phone_in(field_name: str) -> Resolver:
    """An SMS to the number in `event.<field_name>`, in the account's language."""
    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        holder = await directory.known_account(event.account_id)  # type: ignore[attr-defined]
        return [Addressee(key=holder.key, address=getattr(event, field_name), first_name=holder.first_name,
                          language=holder.language, time_zone=holder.time_zone, account_id=holder.account_id)]
    resolve.__name__ = f"phone_in_{field_name}"
    return resolve


def members(roles: Iterable[str] | None = None, *, two_factor: bool | None = None) -> Resolver:
    """Every member of `event.organization_id` (or those with one of `roles`,
    or with/without 2FA), as the projection stands when the event is handled."""
    wanted = frozenset(roles) if roles else None

    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        ids = await directory.members(event.organization_id, wanted, two_factor)  # type: ignore[attr-defined]
        return [await directory.known_account(a) for a in ids]
    resolve.__name__ = "members" if wanted is None else "members_" + "_".join(sorted(wanted))
    return resolve


def account_in(field_name: str) -> Resolver:
    """The account in `event.<field_name>` (e.g. the member an alert is for)."""
    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        return [await directory.known_account(getattr(event, field_name))]
    resolve.__name__ = f"account_in_{field_name}"
    return resolve


def either(*resolvers: Resolver) -> Resolver:
    """Everyone any of `resolvers` names, each once."""
    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        found: dict[str, Addressee] = {}
        for resolver in resolvers:
            for addressee in await resolver(directory, event):
                found.setdefault(addressee.key, addressee)
        return list(found.values())
    return resolve


def when(condition: Callable[[Event], bool], resolver: Resolver) -> Resolver:
    """`resolver`'s people if the event meets `condition`, else nobody."""
    async def resolve(directory: Directory, event: Event) -> list[Addressee]:
        return await resolver(directory, event) if condition(event) else []
    return resolve


async def billing_contacts(directory: Directory, event: Event) -> list[Addressee]:
    """Who handles the money of `event.organization_id`: its legal
    representatives and administrators, and members with the accounting
    right (ORG-08), as the projection stands when the event is handled."""
    ids = await directory.billing_contacts(event.organization_id)  # type: ignore[attr-defined]
    return [await directory.known_account(a) for a in ids]


async def billing_operator(directory: Directory, event: Event) -> list[Addressee]:
    """The operators' address (NOTIFICATIONS_BILLING_OPERATOR_EMAIL); nobody when unset."""
    address = directory.operator_email
    if not address:
        return []
    return [Addressee(key=address.lower(), address=address, first_name="", language=directory.operator_language,
                      time_zone=directory.default_time_zone)]


def exported_csv(event: InvoicesExported) -> list[Attachment]:
    """The CSV billing put in the event (UTF-8, bounded by billing), byte for byte."""
    return [Attachment(event.filename, "text/csv; charset=utf-8", event.csv.encode("utf-8"))]


# --- the catalog ---------------------------------------------------------------

CATALOG: dict[type[Event], tuple[MessageKind, ...]] = {
    # Optional security alerts (IDN-07, IDN-08): the account may turn them off (IDN-10, NTF-05).
    LoginFromNewLocation: (MessageKind("login_from_new_location", account_holder, mandatory=False),),
    LoginFailed: (MessageKind("login_failed", account_holder, mandatory=False),),
    # Mandatory: the owner must hear of these even with every optional alert off.
    PasswordChanged: (MessageKind("password_changed", account_holder),),
    RecoveryPhoneChanged: (MessageKind("recovery_phone_changed", account_holder),),
    # To the login address, and to the previous recovery address if there was one.
    RecoveryEmailChanged: (MessageKind("recovery_email_changed", either(account_holder,
                                                                        address_in("old_recovery_email"))),),
    AccountBlocked: (MessageKind("account_blocked", account_holder),),
    AccountUnblocked: (MessageKind("account_unblocked", account_holder),),
    SignUpAttemptedWithExistingEmail: (MessageKind("signup_attempt", account_holder),),
    TwoFactorEnabled: (MessageKind("two_factor_enabled", account_holder),),
    TwoFactorDisabled: (MessageKind("two_factor_disabled", account_holder),),
    EmergencyCodeUsed: (MessageKind("emergency_code_used", account_holder),),
    AppPasswordCreated: (MessageKind("app_password_created", account_holder),),
    # Codes (IDN-06, IDN-13, IDN-14c): always sent, erased once delivered.
    SmsCodeRequested: (MessageKind("sms_code", phone_in("phone"), channel="sms", secret=True),),
    PasswordResetRequested: (MessageKind("password_reset_code", address_in("email"), secret=True),),
    LoginEmailChangeRequested: (
        MessageKind("login_email_change_code", address_in("new_email"), secret=True),
        MessageKind("login_email_change_requested", address_in("old_email")),
    ),
    LoginEmailChanged: (MessageKind("login_email_changed", address_in("old_email")),),
    # Organizations (ORG-04, ORG-10..14): members and roles from the local projection.
    # The invitee may have no account: the event's language, else the default; the token is the code.
    InvitationCreated: (MessageKind("invitation", address_in("email"), secret=True),),
    ProductLocked: (MessageKind("product_locked", members()),),
    ProductUnlocked: (MessageKind("product_unlocked", members()),),
    TwoFactorPolicyChanged: (
        MessageKind("two_factor_required", when(lambda e: e.required, members(two_factor=False))),),
    SecurityAlertRequested: (MessageKind("security_alert", account_in("account_id")),),
    OrganizationDetailsChanged: (
        MessageKind("organization_details_changed", members({"legal_representative"})),),
    MemberRemoved: (MessageKind("member_removed", account_in("account_id")),),
    # ORG-14: by then only the one deleting it is left; told even if the projection missed them.
    OrganizationDeleted: (MessageKind("organization_deleted", either(members(), account_in("deleted_by"))),),
    # Billing (BIL-02..10): to those who handle the organization's money.
    # Held back a little: an invoice paid at once (prepaid, auto-renewal) gets only its receipt, as Stripe does.
    InvoiceIssued: (MessageKind("invoice_issued", billing_contacts, delay="invoice_mail",
                                ref=lambda e: f"invoice:{e.invoice_id}"),),
    InvoicePaid: (MessageKind("invoice_paid", billing_contacts),),
    InvoiceCancelled: (MessageKind("invoice_cancelled", billing_contacts),),
    CreditNoteIssued: (MessageKind("credit_note_issued", billing_contacts),),
    PaymentFailed: (MessageKind("payment_failed", billing_contacts),),
    # 3-D Secure pending too long: only if still pending after NOTIFICATIONS_PAYMENT_REMINDER_MINUTES.
    PaymentActionRequired: (MessageKind("payment_action_required", billing_contacts, delay="payment_reminder",
                                        ref=lambda e: f"payment:{e.payment_id}"),),
    RenewalDue: (MessageKind("renewal_due", billing_contacts),),
    SubscriptionRenewed: (MessageKind("subscription_renewed", billing_contacts),),
    PrepaidTopUpCredited: (MessageKind("top_up_credited", billing_contacts),),
    PrepaidWithdrawalCompleted: (MessageKind("withdrawal_completed", billing_contacts),),
    PrepaidWithdrawalFailed: (MessageKind("withdrawal_failed", billing_contacts),),
    # The CSV export goes to the member who asked for it, as an attachment (BIL-06).
    InvoicesExported: (MessageKind("invoices_exported", account_in("requested_by"), attachments=exported_csv),),
    # To billing's operators: a person must assign the payment.
    BankPaymentUnmatched: (MessageKind("bank_payment_unmatched", billing_operator, in_organization_log=False),),
    # Assigned by a person to the prepaid balance (to an invoice: its InvoicePaid tells it).
    BankPaymentAssigned: (MessageKind("bank_transfer_credited",
                                      when(lambda e: e.target == "prepaid", billing_contacts)),),
}


# Events that settle what a held-back message is about: it is cancelled if
# not sent yet (a 3-D Secure payment completed or failed, an invoice paid).
SETTLES: dict[type[Event], Callable[[Event], str]] = {
    PaymentCompleted: lambda e: f"payment:{e.payment_id}",
    PaymentFailed: lambda e: f"payment:{e.payment_id}",
    PrepaidTopUpCredited: lambda e: f"payment:{e.top_up_id}",  # a top-up's payment id is its id
    InvoicePaid: lambda e: f"invoice:{e.invoice_id}",
    InvoiceCancelled: lambda e: f"invoice:{e.invoice_id}",
}
