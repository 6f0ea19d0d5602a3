"""domains' tables (SQLModel, own registry)."""
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


class OrganizationRef(Base, table=True):
    """Projection of organizations domains can belong to (from OrganizationCreated)."""

    __tablename__ = "organization_ref"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime())


class Domain(Base, table=True):
    """A registered domain of an organization (DOM-01)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization_ref.id", index=True)
    name: str = Field(max_length=253, sa_column_kwargs={"unique": True})
    tld: str = Field(max_length=63)
    status: str = Field(default="active", max_length=20)
    expires_at: datetime = Field(sa_type=UtcDateTime())
    created_at: datetime = Field(sa_type=UtcDateTime())


outbox_table, inbox_table = event_tables(Base.metadata)
member_table = membership_table(Base.metadata)
# organizations' access state per organization, for the ORG-09 check
access_table = org_access_table(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
# identity's SessionsEnded: tokens of ended sessions are refused here too (IDN-03)
ended_table = ended_sessions_table(Base.metadata)
