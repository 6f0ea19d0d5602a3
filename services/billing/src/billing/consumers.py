"""billing's event handlers."""
from __future__ import annotations

from manager_shared.events import MemberAdded, OrganizationCreated
from manager_shared.runtime import ServiceRuntime

from .service import BillingService


def register(runtime: ServiceRuntime, service: BillingService) -> None:
    organizations = runtime.consumer("organizations", OrganizationCreated.topic)

    @organizations.on(OrganizationCreated)
    async def on_organization_created(session, event: OrganizationCreated) -> None:
        """New organization → its billing account (BIL-01)."""
        await service.open_account(session, event)

    @organizations.on(MemberAdded)
    async def on_member_added(session, event: MemberAdded) -> None:
        """Keep who belongs to which organization, with which role."""
        await service.add_member(session, event)
