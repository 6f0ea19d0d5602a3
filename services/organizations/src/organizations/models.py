"""organizations' tables (SQLModel, own registry)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from manager_shared.access import blocked_accounts_table
from manager_shared.db import event_tables


class Base(SQLModel, registry=registry()):
    pass


class Organization(Base, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(default="private", max_length=20)
    country: str | None = Field(default=None, max_length=2)
    currency: str = Field(max_length=3)
    created_by: uuid.UUID
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Membership(Base, table=True):
    __table_args__ = (sa.UniqueConstraint("organization_id", "account_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    account_id: uuid.UUID = Field(index=True)
    role: str = Field(max_length=24)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


outbox_table, inbox_table = event_tables(Base.metadata)
# identity's block/unblock events: tokens of blocked accounts are refused here too (IDN-18)
blocked_table = blocked_accounts_table(Base.metadata)
