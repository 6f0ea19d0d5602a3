"""domains' queries."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import Domain


async def domains_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Domain]:
    rows = await session.execute(select(Domain).where(Domain.organization_id == organization_id).order_by(Domain.name))
    return list(rows.scalars())
