"""What every part of organizations' business rules shares: loading an
organization for a caller (403/404 rules, 2FA policy), the change counter,
recording events and keeping the local access projection in step."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.access import OrgAccessStore
from manager_shared.access_check import ACCESS_EVENTS, OrgAccess
from manager_shared.clock import Clock
from manager_shared.events import Event, Recipient
from manager_shared.outbox import Outbox

from .config import Settings
from .errors import OrganizationNotFound, RecentSignInRequired, TwoFactorRequired
from .models import AccountRef, Membership, Organization

_ACCESS_TYPES = frozenset(ACCESS_EVENTS)


@dataclass
class Context:
    """An organization as seen by one of its members."""

    org: Organization
    member: Membership

    @property
    def role(self) -> str:
        return self.member.role


@dataclass
class Core:
    settings: Settings
    outbox: Outbox
    clock: Clock
    access: OrgAccessStore
    # the in-memory copy the HTTP check answers from (access_memory.AccessMemory)
    memory: object | None = None

    async def organization(self, session: AsyncSession, organization_id: uuid.UUID, *,
                           lock: bool = False) -> Organization:
        """A live organization; locked FOR UPDATE when it is about to change, so
        concurrent changes of one organization run one after the other."""
        org = await session.get(Organization, organization_id, with_for_update=lock or None,
                                populate_existing=lock)
        if org is None or org.deleted_at is not None:
            raise OrganizationNotFound()
        return org

    async def context(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, *,
                      lock: bool = False, enforce_two_factor: bool = True) -> Context:
        """The caller's view of an organization: 404 unless a member (existence
        is never revealed); 403 two_factor_required when the organization
        requires 2FA and the caller has none (ORG-11)."""
        member = await membership(session, organization_id, account_id)
        if member is None:
            raise OrganizationNotFound()
        org = await self.organization(session, organization_id, lock=lock)
        if lock:  # re-read under the organization's lock: the role may just have changed
            member = await membership(session, organization_id, account_id, refresh=True)
            if member is None:
                raise OrganizationNotFound()
        if enforce_two_factor and org.two_factor_required and not await self.has_two_factor(session, account_id):
            raise TwoFactorRequired()
        return Context(org, member)

    @staticmethod
    def require_recent_sign_in(who, settings: Settings) -> None:
        """IDN-19: dangerous actions need a password entered in the last minutes."""
        if not who.signed_in_within(settings.recent_sign_in_seconds):
            raise RecentSignInRequired()

    async def has_two_factor(self, session: AsyncSession, account_id: uuid.UUID) -> bool:
        account = await session.get(AccountRef, account_id)
        return account is not None and account.two_factor_methods > 0

    def next_version(self, org: Organization) -> int:
        org.version += 1
        return org.version

    async def emit(self, session: AsyncSession, organization_id: uuid.UUID, *events: Event) -> None:
        """Record events in the outbox and apply those about access to this
        service's own projection in the same transaction (its HTTP check)."""
        await self.outbox.record(session, *events)
        access_events = [e for e in events if type(e) in _ACCESS_TYPES]
        if not access_events:
            return
        state = await self.access.load(session, organization_id, for_update=True)
        fresh = state is None
        state = state or OrgAccess(organization_id)
        changed = [state.apply(e) for e in access_events]
        if any(changed):
            await self.access.save(session, state, insert=fresh)
            if self.memory is not None:
                self.memory.written(session, state)

    async def recipient(self, session: AsyncSession, account_id: uuid.UUID) -> Recipient:
        account = await session.get(AccountRef, account_id)
        if account is None:
            return Recipient(account_id=account_id)
        return Recipient(account_id=account_id, email=account.email, first_name=account.first_name,
                         last_name=account.last_name, language=account.language)

    async def recipients(self, session: AsyncSession, organization_id: uuid.UUID,
                         roles: frozenset[str] | None = None) -> list[Recipient]:
        rows = await session.execute(
            sa.select(Membership.account_id, Membership.role, AccountRef).outerjoin(
                AccountRef, AccountRef.account_id == Membership.account_id)
            .where(Membership.organization_id == organization_id).order_by(Membership.id))
        return [Recipient(account_id=account_id) if account is None else Recipient(
                    account_id=account_id, email=account.email, first_name=account.first_name,
                    last_name=account.last_name, language=account.language)
                for account_id, role, account in rows.all() if roles is None or role in roles]

    async def name_of(self, session: AsyncSession, account_id: uuid.UUID) -> str | None:
        account = await session.get(AccountRef, account_id)
        return f"{account.first_name} {account.last_name}".strip() if account else None


async def membership(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, *,
                     refresh: bool = False) -> Membership | None:
    query = sa.select(Membership).where(Membership.organization_id == organization_id,
                                        Membership.account_id == account_id)
    if refresh:
        query = query.execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def legal_representatives(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return (await session.execute(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.organization_id == organization_id, Membership.role == "legal_representative"))).scalar_one()


def loads(text: str) -> dict | list:
    return json.loads(text or "{}")


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
