"""billing's tables (SQLModel, own registry)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from manager_shared.access import blocked_accounts_table, membership_table, org_access_table
from manager_shared.sessions import ended_sessions_table
from manager_shared.db import UtcDateTime, event_tables


class Base(SQLModel, registry=registry()):
    pass


class BillingAccount(Base, table=True):
    """One per organization (BIL-01); currency from the organization's address."""

    __tablename__ = "billing_account"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(sa_column_kwargs={"unique": True})
    organization_name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    created_at: datetime = Field(sa_type=UtcDateTime())
    # The buyer on invoices (BIL-06), from OrganizationDetailsChanged; the VAT
    # number and language are set by the organization in invoice details.
    kind: str = Field(default="private", max_length=16)
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="", max_length=2)
    vat_number: str | None = Field(default=None, max_length=32)
    language: str = Field(default="en", max_length=2)
    # Set when the organization is deleted (ORG-14): money that arrives later goes back where it came from.
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime(), nullable=True)


outbox_table, inbox_table = event_tables(Base.metadata)
member_table = membership_table(Base.metadata)
# organizations' access state per organization, for the ORG-09 check
access_table = org_access_table(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
# identity's SessionsEnded: tokens of ended sessions are refused here too (IDN-03)
ended_table = ended_sessions_table(Base.metadata)

# Each feature package keeps its tables beside its code, in billing's one
# registry: importing them here puts every table in Base.metadata (migrations,
# the schema check). At the bottom, after Base exists, because they import it.
from .catalogue import models as _catalogue  # noqa: E402,F401
from .prepaid import models as _prepaid  # noqa: E402,F401
from .payments import models as _payments  # noqa: E402,F401
from .invoices import models as _invoices  # noqa: E402,F401
