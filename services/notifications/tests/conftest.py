"""Fixtures of notifications' tests: the app on a real database and the real
SMTP catcher, events fed straight to the consumer, helpers that poll with a
deadline instead of sleeping."""
from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from manager_shared.db import migrate
from manager_shared import events as ev
from manager_shared.events import AccountRegistered, Event, LoginFromNewLocation
from manager_shared.testing.sealing import sealed_bytes
from notifications.config import Settings
from notifications.main import MIGRATIONS, create_app
from notifications.models import Message


async def eventually(check, timeout: float = 5.0, interval: float = 0.02):
    """Await `check()` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


async def mails(catcher, predicate=lambda m: True, count: int = 1, timeout: float = 5.0) -> list[dict]:
    """Wait (without blocking the event loop) until `count` received mails match."""
    async def found():
        matches = [m for m in list(catcher.messages) if predicate(m)]
        return matches if len(matches) >= count else None
    return await eventually(found, timeout)


def registered(language: str = "en", email: str | None = None, version: int = 1, **kw) -> AccountRegistered:
    account_id = kw.pop("account_id", uuid.uuid4())
    return AccountRegistered(account_id=account_id, account_version=version,
                             email=email or f"user-{account_id.hex[:8]}@example.com",
                             first_name=kw.pop("first_name", "Anna"), last_name="Muster", language=language,
                             time_zone=kw.pop("time_zone", "Europe/Zurich"), **kw)


def new_location(account_id: uuid.UUID, **kw) -> LoginFromNewLocation:
    values = {"ip": "203.0.113.7", "country": "CH", "city": "Lausanne", "device": "Firefox on Windows",
              "login_at": datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)}
    return LoginFromNewLocation(account_id=account_id, account_version=1, **{**values, **kw})


AT = datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)
PLACE = {"ip": "80.128.1.1", "country": "DE", "device": "Firefox on Windows"}


ORG_ID = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")
ACTOR_ID = uuid.UUID("0e7a0000-0000-4000-8000-0000000000ad")


def sample(event_type: type[Event], account_id: uuid.UUID, email: str = "anna@example.ch",
           organization_id: uuid.UUID = ORG_ID, **over) -> Event:
    """A realistic, fixed event of each type that makes a message (times,
    places and codes fixed, so rendered messages can be snapshot)."""
    if event_type.topic == ev.OrganizationCreated.topic:
        return _org_sample(event_type, account_id, email, organization_id, over)
    if event_type.producer_name == "billing":
        return _billing_sample(event_type, account_id, organization_id, over)
    acct = {"account_id": account_id, "account_version": 50, "occurred_at": AT}
    values = {
        ev.LoginFromNewLocation: {**PLACE, "city": "Berlin", "login_at": AT},
        ev.LoginFailed: {**PLACE, "attempts": 4, "failed_at": AT},
        ev.PasswordChanged: {**PLACE, "reason": "changed", "changed_at": AT},
        ev.RecoveryPhoneChanged: {**PLACE, "phone_hint": "+41 ••• •• 67", "changed_at": AT},
        ev.RecoveryEmailChanged: {**PLACE, "old_recovery_email": "anna.old@example.net",
                                  "recovery_email_hint": "m•••@example.ch", "changed_at": AT},
        ev.AccountBlocked: {"reason": "security incident", "blocked_at": AT},
        ev.AccountUnblocked: {"unblocked_at": AT},
        ev.SignUpAttemptedWithExistingEmail: {**PLACE, "attempted_at": AT},
        ev.TwoFactorEnabled: {"method": "totp", "methods": 1, "changed_at": AT},
        ev.TwoFactorDisabled: {"method": "totp", "methods": 0, "by_support": False, "changed_at": AT},
        ev.EmergencyCodeUsed: {**PLACE, "remaining": 7, "used_at": AT},
        ev.AppPasswordCreated: {"app_password_id": uuid.UUID(int=7), "name": "Thunderbird laptop",
                                "created_at": AT},
        ev.SmsCodeRequested: {"phone": "+41791234567", "code": "482913", "purpose": "sign_in",
                              "expires_at": datetime(2026, 3, 5, 14, 9, 5, tzinfo=timezone.utc)},
        ev.PasswordResetRequested: {**PLACE, "email": email, "code": "731904",
                                    "expires_at": datetime(2026, 3, 5, 14, 34, 5, tzinfo=timezone.utc)},
        ev.LoginEmailChangeRequested: {"old_email": email, "new_email": "anna.new@example.org", "code": "250617",
                                       "expires_at": datetime(2026, 3, 5, 14, 34, 5, tzinfo=timezone.utc)},
        ev.LoginEmailChanged: {"old_email": email, "new_email": "anna.new@example.org", "changed_at": AT},
    }[event_type]
    return event_type(**{**acct, **values, **over})


def _org_sample(event_type, account_id, email, organization_id, over) -> Event:
    from manager_shared.events.organizations import BillingAddress, PostalAddress, Recipient as Member

    member = Member(account_id=account_id, email=email, first_name="Anna", last_name="Muster", language="de")
    base = {"organization_id": organization_id, "occurred_at": AT}
    product = {"product_id": uuid.UUID(int=42), "product_name": "muster-soehne.ch", "organization_name": "Muster AG",
               "recipients": [member], "org_version": 9}
    address = PostalAddress(street="Bahnhofstrasse 1", postal_code="8001", city="Zürich", country="CH")
    values = {
        ev.InvitationCreated: {"invitation_id": uuid.UUID(int=5), "email": email, "role": "collaborator",
                               "token": "inv-7Hq2-Xw9p", "expires_at": datetime(2026, 3, 12, 14, 4, 5, tzinfo=timezone.utc),
                               "organization_name": "Muster AG", "invited_by": ACTOR_ID,
                               "invited_by_name": "Beat Keller", "account_exists": False, "language": None},
        ev.ProductLocked: {**product, "kind": "domain", "locked_by": ACTOR_ID, "locked_by_name": "Beat Keller"},
        ev.ProductUnlocked: {**product, "unlocked_by": ACTOR_ID},
        ev.TwoFactorPolicyChanged: {"required": True, "changed_by": ACTOR_ID, "organization_name": "Muster AG",
                                    "members_without_two_factor": [member], "org_version": 9},
        ev.SecurityAlertRequested: {"account_id": account_id, "member": member, "requested_by": ACTOR_ID,
                                    "requested_by_name": "Beat Keller", "organization_name": "Muster AG",
                                    "two_factor_required": True},
        ev.OrganizationDetailsChanged: {
            "name": "Muster AG", "kind": "company", "address": address, "phone": "+41 44 000 00 00",
            "currency": "CHF", "has_logo": False, "changed_fields": ["address", "phone"], "changed_by": ACTOR_ID,
            "recipients": [member], "billing_addresses": [BillingAddress(
                id=uuid.UUID(int=3), name="Buchhaltung", street="Postfach 12", postal_code="8021", city="Zürich",
                country="CH")]},
        ev.MemberRemoved: {"account_id": account_id, "reason": "removed", "removed_by": ACTOR_ID, "org_version": 9,
                           "organization_name": "Muster AG", "member": member},
        ev.OrganizationDeleted: {"name": "Muster AG", "deleted_by": account_id, "requester": member,
                                 "send_paid_invoices": True, "org_version": 9},
    }[event_type]
    return event_type(**{**base, **values, **over})


EXPORT_CSV = "number;issued_on;total;currency;status\r\n2026-000042;2026-03-05;1234.50;CHF;open\r\n" \
             "2026-000043;2026-03-06;99.00;CHF;paid (Zürich, «Müller & Söhne»)\r\n"


def _billing_sample(event_type, account_id, organization_id, over) -> Event:
    """Billing's events (NTF-01): amounts in minor units, one invoice, one product."""
    from datetime import date

    invoice, product = uuid.UUID(int=11), uuid.UUID(int=42)
    base = {"organization_id": organization_id, "occurred_at": AT}
    chf = {"currency": "CHF"}
    values = {
        ev.InvoiceIssued: {"invoice_id": invoice, "number": "2026-000042", "issued_at": AT, "due_on": date(2026, 4, 4),
                           "net_minor": 114200, "vat_minor": 9250, "total_minor": 123450, **chf,
                           "payment_reference": "210000000003139471430009017"},
        ev.InvoicePaid: {"invoice_id": uuid.UUID(int=18), "number": "2026-000042", "total_minor": 123450, **chf,
                         "means": "card", "paid_at": AT},
        ev.InvoiceCancelled: {"invoice_id": invoice, "number": "2026-000042", "total_minor": 123450, **chf,
                              "reason": "Doppelt ausgestellt"},
        ev.BankPaymentAssigned: {"bank_payment_id": uuid.UUID(int=17), "target": "prepaid", "amount_minor": 123400,
                                 **chf, "assigned_by": ACTOR_ID},
        ev.CreditNoteIssued: {"credit_note_id": uuid.UUID(int=12), "number": "CN-2026-000003", "invoice_id": invoice,
                              "invoice_number": "2026-000042", "amount_minor": 20000, "vat_minor": 1498, **chf,
                              "fully_refunded": False},
        ev.PaymentFailed: {"payment_id": uuid.UUID(int=13), "purpose": "invoices", "amount_minor": 123450, **chf,
                           "reason": "insufficient_funds", "invoice_numbers": ["2026-000042", "2026-000043"]},
        ev.PaymentCompleted: {"payment_id": uuid.UUID(int=14), "invoice_ids": [invoice],
                              "invoice_numbers": ["2026-000042"], "prepaid_minor": 23450, "card_minor": 100000, **chf},
        ev.PaymentActionRequired: {"payment_id": uuid.UUID(int=14), "purpose": "top_up", "amount_minor": 50000,
                                   **chf, "expires_at": datetime(2026, 3, 5, 14, 34, 5, tzinfo=timezone.utc)},
        ev.RenewalDue: {"product_id": product, "product_name": "muster-soehne.ch", "offer_code": "domain.ch",
                        "period": "yearly", "invoice_id": invoice, "invoice_number": "2026-000044",
                        "amount_minor": 1790, **chf, "due_date": date(2026, 3, 31), "auto_renew": True,
                        "reason": "prepaid_balance_too_low"},
        ev.SubscriptionRenewed: {"product_id": product, "offer_code": "domain.ch", "period": "yearly",
                                 "term_start": date(2026, 3, 31), "term_end": date(2027, 3, 31),
                                 "invoice_id": invoice},
        ev.PrepaidTopUpCredited: {"top_up_id": uuid.UUID(int=15), "amount_minor": 50000, **chf,
                                  "balance_minor": 123450, "means": "card"},
        ev.PrepaidWithdrawalCompleted: {"withdrawal_id": uuid.UUID(int=16), "amount_minor": 123450, **chf,
                                        "destination": "iban", "iban_last4": "3000"},
        ev.PrepaidWithdrawalFailed: {"withdrawal_id": uuid.UUID(int=16), "credited_back_minor": 123450, **chf,
                                     "balance_minor": 123450},
        ev.InvoicesExported: {"requested_by": account_id, "invoice_count": 2, "filename": "invoices-2026-03.csv",
                              "csv": EXPORT_CSV},
        ev.BankPaymentUnmatched: {"bank_payment_id": uuid.UUID(int=17), "amount_minor": 123400, **chf,
                                  "reference": "210000000003139471430009017", "reason": "amount_mismatch",
                                  "booked_on": date(2026, 3, 5)},
    }[event_type]
    return event_type(**{**base, **values, **over})


@dataclass
class Harness:
    """The app with handles on its parts."""

    app: FastAPI

    @property
    def runtime(self):
        return self.app.state.runtime

    @property
    def worker(self):
        return self.app.state.delivery

    @property
    def consumer(self):
        return self.app.state.consumer

    @property
    def service(self):
        return self.app.state.notifications

    async def feed(self, *events: Event) -> list[str]:
        # as the producers publish them: codes and tokens sealed to this run's key
        return [await self.consumer.handle_raw(e.topic, sealed_bytes(e)) for e in events]

    async def messages(self, *where) -> list[Message]:
        async with self.runtime.db.transaction() as session:
            return list((await session.execute(sa.select(Message).where(*where).order_by(Message.id))).scalars())

    async def deliver_until(self, check, timeout: float = 5.0):
        """Run the worker by hand until `check()` holds."""
        async def step():
            await self.worker.deliver_due()
            return await check()
        return await eventually(step, timeout)


# Test modules cannot import this conftest (importlib mode): helpers come as fixtures.
@pytest.fixture(name="eventually")
def _eventually():
    return eventually


@pytest.fixture(name="mails")
def _mails(mail_catcher):
    return partial(mails, mail_catcher)


@pytest.fixture
def events():
    return SimpleNamespace(registered=registered, new_location=new_location, sample=sample)


@pytest.fixture
def settings_for(mail_catcher, tmp_path):
    """Settings for a database URL: the real SMTP catcher, fast retries."""
    def make(database_url: str, **overrides) -> Settings:
        values = {"database_url": database_url, "smtp_port": mail_catcher.smtp_port, "smtp_timeout": 3.0,
                  "sms_gateway": "file", "sms_file_path": str(tmp_path / "sms.jsonl"),
                  "delivery_backoff_base": 0.05, "delivery_backoff_max": 0.2, "delivery_poll_interval": 0.1,
                  "consumer_max_attempts": 2, "consumer_backoff_base": 0.01}
        return Settings(**{**values, **overrides})
    return make


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/notifications.db"


@pytest.fixture
async def harness(settings_for, sqlite_url):
    """The app on a migrated SQLite file, without the broker (nothing started)."""
    app = create_app(settings_for(sqlite_url))
    await migrate(app.state.runtime.db, MIGRATIONS)
    yield Harness(app)
    await app.state.runtime.db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, sqlite_url) -> str:
    """Tests that take it run on both databases: SQLite (the embedded default)
    and PostgreSQL (production), a real server either way."""
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("postgres").create_database("notifications")


@pytest.fixture
async def harness_for(settings_for):
    """Make the app on a database URL with settings overrides, migrated (not started)."""
    made: list[FastAPI] = []

    async def make(database_url: str, clock=None, **overrides) -> Harness:
        app = create_app(settings_for(database_url, **overrides), clock=clock)
        await migrate(app.state.runtime.db, MIGRATIONS)
        made.append(app)
        return Harness(app)
    yield make
    for app in made:
        await app.state.runtime.db.dispose()
