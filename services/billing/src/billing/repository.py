"""billing's queries."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import BillingAccount


async def account_closed(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    """Whether the organization was deleted (ORG-14): its account closed."""
    closed = await session.execute(sa.select(BillingAccount.closed_at).where(
        BillingAccount.organization_id == organization_id))
    return closed.scalar_one_or_none() is not None


async def billing_account(session: AsyncSession, organization_id: uuid.UUID) -> BillingAccount | None:
    return (await session.execute(select(BillingAccount).where(
        BillingAccount.organization_id == organization_id))).scalar_one_or_none()
