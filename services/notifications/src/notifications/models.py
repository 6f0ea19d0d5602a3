"""notifications' tables (SQLModel, own registry so services never share metadata)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from manager_shared.access import blocked_accounts_table
from manager_shared.sessions import ended_sessions_table
from manager_shared.db import UtcDateTime, event_tables

LANGUAGES = ("fr", "en", "de", "it", "es")
PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
# A held-back message whose matter was settled before it was sent (never sent).
CANCELLED = "cancelled"


class Base(SQLModel, registry=registry()):
    pass


def _tz() -> UtcDateTime:
    return UtcDateTime()


class Recipient(Base, table=True):
    """Local projection of an account's contact data, fed by identity's
    events; `version` is the highest account_version applied."""

    account_id: uuid.UUID = Field(primary_key=True)
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    language: str = Field(max_length=2)
    time_zone: str = Field(max_length=64)
    # Optional alerts turned off (event types, comma-separated), NTF-05.
    disabled_alerts: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    version: int
    updated_at: datetime = Field(sa_type=_tz())


class Message(Base, table=True):
    """One message to one recipient on one channel, made from one event.

    The unique key makes a redelivered or replayed event produce nothing new
    (NTF-04); the row is also the delivery log.
    """

    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient", "channel", name="uq_message_once"),
        sa.Index("ix_message_due", "status", "next_attempt_at"),
        sa.Index("ix_message_account", "account_id", "id"),
        sa.Index("ix_message_organization", "organization_id", "id"),
        sa.Index("ix_message_status_created_at", "status", "created_at"),  # retention of the log
        sa.Index("ix_message_ref", "ref"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True))
    event_id: uuid.UUID
    event_type: str = Field(max_length=100)
    # Who, stably: the account id, or the address for someone without an account.
    recipient: str = Field(max_length=254)
    account_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The organization the event was about, for its delivery log (NTF-04).
    organization_id: uuid.UUID | None = Field(default=None, nullable=True)
    address: str = Field(max_length=254)
    channel: str = Field(default="email", max_length=16)
    template: str = Field(max_length=100)
    language: str = Field(max_length=2)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_type=sa.Text)
    body_html: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    # The body holds a one-time code: it is erased once sent or given up.
    secret: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Files mailed with the message (JSON, see attachments.py): kept until the
    # message is final, then only their names and sizes stay (like a code).
    attachments: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    # What a held-back message is about (e.g. "payment:<id>"): an event that
    # settles it cancels the message if it is not sent yet.
    ref: str | None = Field(default=None, max_length=100, nullable=True)
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000, nullable=True)
    created_at: datetime = Field(sa_type=_tz())
    # When the worker may (re)try; while a worker holds it, the end of its lease.
    next_attempt_at: datetime = Field(sa_type=_tz())
    sent_at: datetime | None = Field(default=None, sa_type=_tz(), nullable=True)


class Organization(Base, table=True):
    """Local projection of an organization, from organizations' events: what
    messages about it need (its name)."""

    organization_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    updated_at: datetime = Field(sa_type=_tz())


class Product(Base, table=True):
    """Local projection of the organizations' product registry (ORG-05): the
    name a message about a product shows when its event carries only the id
    (a renewal paid automatically)."""

    __table_args__ = (sa.Index("ix_product_organization", "organization_id"),)

    product_id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    name: str = Field(max_length=253)
    updated_at: datetime = Field(sa_type=_tz())


class OrganizationMember(Base, table=True):
    """Local projection of who is in an organization with which role; a
    message to "every member" is resolved from it when the event is handled."""

    __tablename__ = "organization_member"
    __table_args__ = (sa.Index("ix_organization_member_account", "account_id"),)

    organization_id: uuid.UUID = Field(primary_key=True)
    account_id: uuid.UUID = Field(primary_key=True)
    role: str = Field(max_length=24)
    # Whether the account has a second factor, as organizations reports it (ORG-11).
    two_factor: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # The accounting right (ORG-08): money messages go to this member too.
    accounting: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    updated_at: datetime = Field(sa_type=_tz())
    # org_version of the event that set `role` / `two_factor`: each field takes
    # only a newer event, so any arrival order ends in the same row.
    # role "" = not known yet (a 2FA change came first), "removed" = left.
    role_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    two_factor_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    accounting_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


outbox_table, inbox_table = event_tables(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
# identity's SessionsEnded: tokens of ended sessions are refused here too (IDN-03)
ended_table = ended_sessions_table(Base.metadata)
