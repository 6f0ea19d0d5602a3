"""organizations' queries."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.addresses import normalize_email

from .models import AccountRef, BillingAddress, Invitation, Membership, Organization, Product, Team


async def organizations_of(session: AsyncSession, account_id: uuid.UUID) -> list[tuple[Organization, str]]:
    rows = await session.execute(
        select(Organization, Membership.role).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.account_id == account_id, Organization.deleted_at.is_(None))
        .order_by(Organization.created_at, Organization.name))
    return [(org, role) for org, role in rows.all()]


async def membership(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> Membership | None:
    return (await session.execute(select(Membership).where(
        Membership.organization_id == organization_id, Membership.account_id == account_id))).scalar_one_or_none()


async def members_with_accounts(session: AsyncSession,
                                organization_id: uuid.UUID) -> list[tuple[Membership, AccountRef | None]]:
    rows = await session.execute(
        select(Membership, AccountRef).outerjoin(AccountRef, AccountRef.account_id == Membership.account_id)
        .where(Membership.organization_id == organization_id).order_by(Membership.id))
    return [(m, a) for m, a in rows.all()]


async def members_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Membership]:
    return list((await session.execute(select(Membership).where(
        Membership.organization_id == organization_id))).scalars())


async def memberships_of(session: AsyncSession, account_id: uuid.UUID) -> list[Membership]:
    return list((await session.execute(select(Membership).where(Membership.account_id == account_id))).scalars())


async def teams_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Team]:
    return list((await session.execute(select(Team).where(Team.organization_id == organization_id)
                                       .order_by(Team.created_at, Team.name))).scalars())


async def products_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Product]:
    return list((await session.execute(select(Product).where(Product.organization_id == organization_id)
                                       .order_by(Product.kind, Product.name))).scalars())


async def invitations_of(session: AsyncSession, organization_id: uuid.UUID) -> list[Invitation]:
    return list((await session.execute(select(Invitation).where(Invitation.organization_id == organization_id)
                                       .order_by(Invitation.created_at.desc()))).scalars())


async def billing_addresses_of(session: AsyncSession, organization_id: uuid.UUID) -> list[BillingAddress]:
    return list((await session.execute(select(BillingAddress).where(
        BillingAddress.organization_id == organization_id).order_by(BillingAddress.created_at))).scalars())


async def account_by_email(session: AsyncSession, email: str) -> AccountRef | None:
    return (await session.execute(select(AccountRef).where(AccountRef.email == normalize_email(email)))).scalars().first()
