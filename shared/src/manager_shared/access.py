"""Local projection of organizations' membership events, kept by every
service that must decide who may act on an organization's data (ORG-09).

The table lives in the consuming service's own database; only its shape and
the upsert are shared, so no service ever reads another's tables.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .events import MemberAdded


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
