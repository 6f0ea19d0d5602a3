"""domains' event handlers."""
from __future__ import annotations

from manager_shared.events import MemberAdded, OrganizationCreated
from manager_shared.runtime import ServiceRuntime

from .service import DomainsService


def register(runtime: ServiceRuntime, service: DomainsService) -> None:
    organizations = runtime.consumer("organizations", OrganizationCreated.topic)

    @organizations.on(OrganizationCreated)
    async def on_organization_created(session, event: OrganizationCreated) -> None:
        """Remember the organization, so domains can be attached to it."""
        await service.add_organization(session, event)

    @organizations.on(MemberAdded)
    async def on_member_added(session, event: MemberAdded) -> None:
        """Keep who belongs to which organization, with which role."""
        await service.add_member(session, event)
