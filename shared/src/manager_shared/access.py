"""Local projection of organizations' membership events, kept by every
service that must decide who may act on an organization's data (ORG-09).

The table lives in the consuming service's own database; only its shape and
the upsert are shared, so no service ever reads another's tables.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .events import AccountBlocked, AccountUnblocked, MemberAdded


def membership_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "org_member", metadata,
        sa.Column("organization_id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, primary_key=True, index=True),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


class Memberships:
    """Reads and updates one service's membership projection."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def apply(self, session: AsyncSession, event: MemberAdded) -> None:
        """Upsert from MemberAdded; an older event never overwrites a newer one."""
        t = self.table
        current = (await session.execute(sa.select(t.c.changed_at).where(
            t.c.organization_id == event.organization_id, t.c.account_id == event.account_id))).first()
        if current is None:
            await session.execute(t.insert().values(organization_id=event.organization_id,
                                                    account_id=event.account_id, role=event.role,
                                                    changed_at=event.occurred_at))
            return
        changed_at = current.changed_at if current.changed_at.tzinfo else current.changed_at.replace(
            tzinfo=event.occurred_at.tzinfo)
        if event.occurred_at >= changed_at:
            await session.execute(t.update().where(
                t.c.organization_id == event.organization_id, t.c.account_id == event.account_id,
            ).values(role=event.role, changed_at=event.occurred_at))

    async def role_of(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> str | None:
        t = self.table
        row = (await session.execute(sa.select(t.c.role).where(
            t.c.organization_id == organization_id, t.c.account_id == account_id))).first()
        return row.role if row else None


def blocked_accounts_table(metadata: sa.MetaData) -> sa.Table:
    """Projection of identity's block/unblock events (IDN-18), one row per
    account ever blocked; `version` is the highest account_version applied."""
    return sa.Table(
        "blocked_account", metadata,
        sa.Column("account_id", sa.Uuid, primary_key=True),
        sa.Column("blocked", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


class BlockedAccounts:
    """Every service keeps it, so a blocked account's tokens stop working
    everywhere as soon as the event is consumed (no call to identity)."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def apply(self, session: AsyncSession, event: AccountBlocked | AccountUnblocked) -> None:
        t, blocked = self.table, isinstance(event, AccountBlocked)
        row = (await session.execute(sa.select(t.c.version).where(t.c.account_id == event.account_id))).first()
        if row is None:
            await session.execute(t.insert().values(account_id=event.account_id, blocked=blocked,
                                                    version=event.account_version))
        elif event.account_version > row.version:
            await session.execute(t.update().where(t.c.account_id == event.account_id)
                                  .values(blocked=blocked, version=event.account_version))

    async def is_blocked(self, session: AsyncSession, account_id: uuid.UUID) -> bool:
        row = (await session.execute(sa.select(self.table.c.blocked).where(
            self.table.c.account_id == account_id))).first()
        return bool(row and row.blocked)
