"""organizations' queries."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import Membership, Organization


async def organizations_of(session: AsyncSession, account_id: uuid.UUID) -> list[tuple[Organization, str]]:
    rows = await session.execute(
        select(Organization, Membership.role).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.account_id == account_id).order_by(Organization.created_at, Organization.name))
    return [(org, role) for org, role in rows.all()]


async def membership(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> Membership | None:
    return (await session.execute(select(Membership).where(
        Membership.organization_id == organization_id, Membership.account_id == account_id))).scalar_one_or_none()
