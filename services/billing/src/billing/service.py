"""billing's business rules. Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.access import Memberships, OrgAccessStore
from manager_shared.clock import Clock
from manager_shared.events import (BillingAccountOpened, OrganizationCreated, OrganizationDeleted,
                                   OrganizationDetailsChanged)
from manager_shared.metrics import BUSINESS_EVENTS
from manager_shared.outbox import Outbox

from . import repository as repo
from .errors import BillingAccountNotFound
from .models import BillingAccount


@dataclass
class BillingService:
    outbox: Outbox
    clock: Clock
    members: Memberships
    access: OrgAccessStore

    async def open_account(self, session: AsyncSession, event: OrganizationCreated) -> BillingAccount:
        """BIL-01: every organization gets a billing account in its currency."""
        existing = await repo.billing_account(session, event.organization_id)
        if existing:
            return existing
        account = BillingAccount(organization_id=event.organization_id, organization_name=event.name,
                                 currency=event.currency, created_at=self.clock.now(), kind=event.kind,
                                 country=(event.country or "")[:2].upper())
        session.add(account)
        await self.outbox.record(session, BillingAccountOpened(
            organization_id=event.organization_id, billing_account_id=account.id, currency=account.currency))
        BUSINESS_EVENTS.labels("billing", "open_billing_account", "created").inc()
        return account

    async def close_account(self, session: AsyncSession, event: OrganizationDeleted) -> None:
        """ORG-14: the organization is gone (its balance was paid out and its
        invoices paid first). The account stays, for the invoices kept by
        law; a card charge that completes later is refunded, not credited."""
        account = await repo.billing_account(session, event.organization_id)
        if account is not None and account.closed_at is None:
            account.closed_at = self.clock.now()
            BUSINESS_EVENTS.labels("billing", "close_billing_account", "closed").inc()

    async def update_details(self, session: AsyncSession, event: OrganizationDetailsChanged) -> None:
        """Future invoices use the currency of the organization's address;
        invoices already issued keep theirs."""
        account = await repo.billing_account(session, event.organization_id)
        if account is not None:
            account.organization_name, account.currency = event.name[:200], event.currency
            # the buyer on future invoices: the first billing address, else the postal one
            address = event.billing_addresses[0] if event.billing_addresses else event.address
            account.kind = event.kind
            if address is not None:
                account.street, account.postal_code = address.street[:200], address.postal_code[:20]
                account.city, account.country = address.city[:100], address.country[:2].upper()

    async def account_for(self, session: AsyncSession, organization_id: uuid.UUID,
                          account_id: uuid.UUID) -> BillingAccount:
        """Legal representatives, administrators and members with the
        accounting right (ORG-08), from the local access projection (ORG-09)."""
        # the projection and the block status in one statement (this is on every money request's path)
        allowed = await self.access.check_in_one_read(await session.connection(), account_id, organization_id,
                                                      "accounting")
        account = await repo.billing_account(session, organization_id)
        if not allowed or account is None:
            raise BillingAccountNotFound()
        return account

    async def ensure_access(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> None:
        """`account_for` without loading the account: the access decision and
        the account's existence in one statement (every money request's guard)."""
        allowed, has_account = await self.access.check_and_read(
            await session.connection(), account_id, organization_id, "accounting",
            extra=sa.exists().where(BillingAccount.organization_id == organization_id))
        if not allowed or not has_account:
            raise BillingAccountNotFound()
