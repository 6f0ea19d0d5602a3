"""organizations' business rules. Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.events import AccountRegistered, MemberAdded, OrganizationCreated
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from . import repository as repo
from .config import Settings
from .errors import OrganizationNotFound
from .models import Membership, Organization

LEGAL_REPRESENTATIVE = "legal_representative"


@dataclass
class OrganizationsService:
    settings: Settings
    outbox: Outbox
    clock: Clock

    async def create_personal_organization(self, session: AsyncSession, event: AccountRegistered) -> Organization:
        """IDN-02/ORG-01: a new account gets an organization in its own name,
        where it is legal representative."""
        now = self.clock.now()
        org = Organization(name=f"{event.first_name} {event.last_name}"[:200], kind="private",
                           currency=self.settings.default_currency, created_by=event.account_id, created_at=now)
        session.add(org)
        await session.flush()  # the membership references it
        session.add(Membership(organization_id=org.id, account_id=event.account_id, role=LEGAL_REPRESENTATIVE,
                               created_at=now))
        await self.outbox.record(
            session,
            OrganizationCreated(organization_id=org.id, name=org.name, kind="private", created_by=event.account_id,
                                country=None, currency=org.currency, occurred_at=now),
            MemberAdded(organization_id=org.id, account_id=event.account_id, role=LEGAL_REPRESENTATIVE,
                        occurred_at=now))
        BUSINESS_EVENTS.labels("organizations", "create_organization", "personal").inc()
        return org

    async def get_for_member(self, session: AsyncSession, organization_id: uuid.UUID,
                             account_id: uuid.UUID) -> tuple[Organization, str]:
        member = await repo.membership(session, organization_id, account_id)
        org = await session.get(Organization, organization_id) if member else None
        if org is None:
            raise OrganizationNotFound()
        return org, member.role
