"""billing's event handlers."""
from __future__ import annotations

from manager_shared.events import OrganizationCreated, OrganizationDeleted, OrganizationDetailsChanged
from manager_shared.runtime import ServiceRuntime

from .service import BillingService


def register(runtime: ServiceRuntime, service: BillingService) -> None:
    organizations = runtime.consumer("organizations", OrganizationCreated.topic)

    @organizations.on(OrganizationCreated)
    async def on_organization_created(session, event: OrganizationCreated) -> None:
        """New organization → its billing account (BIL-01)."""
        await service.open_account(session, event)

    @organizations.on(OrganizationDetailsChanged)
    async def on_details_changed(session, event: OrganizationDetailsChanged) -> None:
        """The postal address decides the currency of future invoices (ORG-12, BIL-01)."""
        await service.update_details(session, event)

    @organizations.on(OrganizationDeleted)
    async def on_organization_deleted(session, event: OrganizationDeleted) -> None:
        """The organization is deleted: its billing account is closed (ORG-14)."""
        await service.close_account(session, event)
