"""organizations' tables (SQLModel, own registry)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from manager_shared.access import blocked_accounts_table, org_access_table
from manager_shared.sessions import ended_sessions_table
from manager_shared.db import UtcDateTime, event_tables


class Base(SQLModel, registry=registry()):
    pass


def _tz() -> dict:
    return {"sa_type": UtcDateTime()}


class Organization(Base, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(default="private", max_length=20)
    country: str | None = Field(default=None, max_length=2)
    currency: str = Field(max_length=3)
    created_by: uuid.UUID
    created_at: datetime = Field(sa_type=UtcDateTime())
    # Change counter of everything access depends on; carried as org_version by the events.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    two_factor_required: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    street: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=20)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime())


class Membership(Base, table=True):
    __table_args__ = (sa.UniqueConstraint("organization_id", "account_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    account_id: uuid.UUID = Field(index=True)
    role: str = Field(max_length=24)
    created_at: datetime = Field(sa_type=UtcDateTime())
    accounting: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    full_access: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # JSON: {product_id: [rights]} and {category: [rights]} (ORG-06)
    grants: str = Field(default="{}", sa_type=sa.Text, sa_column_kwargs={"server_default": "{}"})
    category_grants: str = Field(default="{}", sa_type=sa.Text, sa_column_kwargs={"server_default": "{}"})


class AccountRef(Base, table=True):
    """What organizations knows of an account from identity's events: the
    address invitations are matched with, names for mails, 2FA status (ORG-11)."""

    __tablename__ = "account_ref"

    account_id: uuid.UUID = Field(primary_key=True)
    email: str = Field(max_length=320, index=True)  # normalize_email form (IDN-01)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    language: str = Field(max_length=5)
    two_factor_methods: int = 0
    version: int = 0


class Product(Base, table=True):
    """The organization's product registry (ORG-05), from ProductProvisioned."""

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    kind: str = Field(max_length=40)
    category: str = Field(max_length=40)
    name: str = Field(max_length=253)
    locked: bool = False
    maintenance: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime())


class Team(Base, table=True):
    """A work team (ORG-07); members and grants as JSON lists/maps."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=100)
    members: str = Field(default="[]", sa_type=sa.Text)
    grants: str = Field(default="{}", sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UtcDateTime())


class Invitation(Base, table=True):
    """ORG-04. Only the SHA-256 of the token is kept; the token travels once in InvitationCreated."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    email: str = Field(max_length=320, index=True)
    role: str = Field(max_length=24)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    rights: str = Field(default="{}", sa_type=sa.Text)  # initial grants, teams, accounting, full access
    created_by: uuid.UUID
    created_at: datetime = Field(sa_type=UtcDateTime())
    expires_at: datetime = Field(sa_type=UtcDateTime())
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    accepted_by: uuid.UUID | None = None
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime())


class BillingAddress(Base, table=True):
    __tablename__ = "billing_address"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=20)
    city: str = Field(max_length=100)
    country: str = Field(max_length=2)
    created_at: datetime = Field(sa_type=UtcDateTime())


class OrganizationLogo(Base, table=True):
    __tablename__ = "organization_logo"

    organization_id: uuid.UUID = Field(foreign_key="organization.id", primary_key=True)
    content_type: str = Field(max_length=40)
    data: bytes = Field(sa_type=sa.LargeBinary)
    updated_at: datetime = Field(sa_type=UtcDateTime())


class CurrentOrganization(Base, table=True):
    """The organization an account used last (ORG-01 switching)."""

    __tablename__ = "current_organization"

    account_id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    changed_at: datetime = Field(sa_type=UtcDateTime())


class BillingStanding(Base, table=True):
    """billing's facts about an organization, from its events (ORG-14)."""

    __tablename__ = "billing_standing"

    organization_id: uuid.UUID = Field(primary_key=True)
    unpaid_invoices: int = 0
    prepaid_balance_minor: int = 0
    currency: str = Field(max_length=3)
    # the highest BillingStandingChanged.standing_version applied (0: only BillingAccountOpened)
    standing_version: int = 0


class MemberRemoval(Base, table=True):
    """Record of a removal and of what was decided for the member's data (ORG-13)."""

    __tablename__ = "member_removal"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    account_id: uuid.UUID
    removed_by: uuid.UUID | None
    reason: str = Field(max_length=20)
    decisions: str = Field(default="[]", sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UtcDateTime())


outbox_table, inbox_table = event_tables(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
# identity's SessionsEnded: tokens of ended sessions are refused here too (IDN-03)
ended_table = ended_sessions_table(Base.metadata)
# the access state of each organization, written with every change it publishes (ORG-09)
access_table = org_access_table(Base.metadata)
