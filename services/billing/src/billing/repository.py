"""billing's queries."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import BillingAccount


async def billing_account(session: AsyncSession, organization_id: uuid.UUID) -> BillingAccount | None:
    return (await session.execute(select(BillingAccount).where(
        BillingAccount.organization_id == organization_id))).scalar_one_or_none()
