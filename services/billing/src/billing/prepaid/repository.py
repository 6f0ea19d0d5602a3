"""Queries of the prepaid feature."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import BillingAccount
from .models import TopUp, Withdrawal, WithdrawalPart


async def lock_billing_account(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialise an organization's money requests on PostgreSQL (the daily
    limit's sum, the choice of cards); SQLite has one writer anyway."""
    await session.execute(sa.select(BillingAccount.id).where(
        BillingAccount.organization_id == organization_id).with_for_update())


async def top_ups_since(session: AsyncSession, organization_id: uuid.UUID, since: datetime) -> int:
    return int((await session.execute(sa.select(sa.func.coalesce(sa.func.sum(TopUp.amount_minor), 0)).where(
        TopUp.organization_id == organization_id, TopUp.created_at >= since,
        TopUp.status.in_(("pending", "succeeded"))))).scalar_one())


async def top_up(session: AsyncSession, organization_id: uuid.UUID, top_up_id: uuid.UUID) -> TopUp | None:
    row = await session.get(TopUp, top_up_id)
    return row if row is not None and row.organization_id == organization_id else None


async def top_up_by_payment(session: AsyncSession, provider: str, payment_id: str) -> TopUp | None:
    return (await session.execute(sa.select(TopUp).where(
        TopUp.provider == provider, TopUp.provider_payment_id == payment_id).with_for_update())).scalar_one_or_none()


async def refundable_top_ups(session: AsyncSession, organization_id: uuid.UUID, currency: str) -> list[TopUp]:
    """Paid top-ups with something left to send back, oldest first."""
    return list((await session.execute(sa.select(TopUp).where(
        TopUp.organization_id == organization_id, TopUp.currency == currency, TopUp.status == "succeeded",
        TopUp.refunded_minor < TopUp.amount_minor).order_by(TopUp.created_at, TopUp.id).with_for_update())).scalars())


async def expired_top_ups(session: AsyncSession, now: datetime, limit: int = 100) -> list[TopUp]:
    query = sa.select(TopUp).where(TopUp.status == "pending", TopUp.expires_at < now).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # another replica's sweep takes the others
    return list((await session.execute(query)).scalars())


async def withdrawal(session: AsyncSession, organization_id: uuid.UUID, withdrawal_id: uuid.UUID) -> Withdrawal | None:
    row = await session.get(Withdrawal, withdrawal_id)
    return row if row is not None and row.organization_id == organization_id else None


async def parts_of(session: AsyncSession, withdrawal_id: uuid.UUID) -> list[WithdrawalPart]:
    return list((await session.execute(sa.select(WithdrawalPart).where(
        WithdrawalPart.withdrawal_id == withdrawal_id).order_by(WithdrawalPart.id))).scalars())


async def part_by_ref(session: AsyncSession, provider_ref: str) -> WithdrawalPart | None:
    return (await session.execute(sa.select(WithdrawalPart).where(
        WithdrawalPart.provider_ref == provider_ref).with_for_update())).scalar_one_or_none()
