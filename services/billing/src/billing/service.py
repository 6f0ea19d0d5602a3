"""billing's business rules. Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.access import Memberships
from manager_shared.clock import Clock
from manager_shared.events import BillingAccountOpened, OrganizationCreated
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from . import repository as repo
from .errors import BillingAccountNotFound
from .models import BillingAccount

# Roles that see billing without a specific grant (the accounting right of
# ORG-08 arrives with the organizations issue).
BILLING_ROLES = frozenset({"legal_representative", "administrator"})


@dataclass
class BillingService:
    outbox: Outbox
    clock: Clock
    members: Memberships

    async def open_account(self, session: AsyncSession, event: OrganizationCreated) -> BillingAccount:
        """BIL-01: every organization gets a billing account in its currency."""
        existing = await repo.billing_account(session, event.organization_id)
        if existing:
            return existing
        account = BillingAccount(organization_id=event.organization_id, organization_name=event.name,
                                 currency=event.currency, created_at=self.clock.now())
        session.add(account)
        await self.outbox.record(session, BillingAccountOpened(
            organization_id=event.organization_id, billing_account_id=account.id, currency=account.currency))
        BUSINESS_EVENTS.labels("billing", "open_billing_account", "created").inc()
        return account

    async def account_for(self, session: AsyncSession, organization_id: uuid.UUID,
                          account_id: uuid.UUID) -> BillingAccount:
        role = await self.members.role_of(session, organization_id, account_id)
        account = await repo.billing_account(session, organization_id)
        if role not in BILLING_ROLES or account is None:
            raise BillingAccountNotFound()
        return account
