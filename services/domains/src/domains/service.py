"""domains' business rules. Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.access import Memberships, OrgAccessStore
from manager_shared.errors import Forbidden
from manager_shared.clock import Clock
from manager_shared.events import OrganizationCreated, ProductProvisioned
from manager_shared.outbox import Outbox

from . import repository as repo
from .errors import OrganizationNotFound
from .models import Domain, OrganizationRef


REFUSALS = {"two_factor_required": "This organization requires two-factor authentication: set it up in your "
                                   "account's security settings."}


@dataclass
class DomainsService:
    outbox: Outbox
    clock: Clock
    members: Memberships
    access: OrgAccessStore | None = None

    async def add_organization(self, session: AsyncSession, event: OrganizationCreated) -> None:
        if await session.get(OrganizationRef, event.organization_id) is None:
            session.add(OrganizationRef(id=event.organization_id, name=event.name, created_at=event.occurred_at))

    async def register_domain(self, session: AsyncSession, organization_id: uuid.UUID, name: str,
                              expires_at: datetime) -> Domain:
        """DOM-01: a domain now belongs to the organization; organizations
        learns it as a product from ProductProvisioned (ORG-05)."""
        name = name.strip().lower().rstrip(".")
        domain = Domain(organization_id=organization_id, name=name, tld=name.rsplit(".", 1)[-1],
                        expires_at=expires_at, created_at=self.clock.now())
        session.add(domain)
        await session.flush()
        await self.outbox.record(session, ProductProvisioned(
            product_id=domain.id, organization_id=organization_id, kind="domain", name=name))
        return domain

    async def domains_for(self, session: AsyncSession, organization_id: uuid.UUID,
                          account_id: uuid.UUID) -> list[Domain]:
        """Members of the organization (ORG-09 check from the local projection;
        a member without 2FA where the organization requires it is refused, ORG-11)."""
        if self.access is None:
            if await self.members.role_of(session, organization_id, account_id) is None:
                raise OrganizationNotFound()
            return await repo.domains_of(session, organization_id)
        decision = await self.access.check(session, account_id, organization_id, "view")
        if decision.code == "not_member":
            raise OrganizationNotFound()
        if not decision.allowed:
            raise Forbidden(REFUSALS.get(decision.code), code=decision.code)
        return await repo.domains_of(session, organization_id)
