"""domains' event handlers."""
from __future__ import annotations

from manager_shared.events import OrganizationCreated
from manager_shared.runtime import ServiceRuntime

from .service import DomainsService


def register(runtime: ServiceRuntime, service: DomainsService) -> None:
    organizations = runtime.consumer("organizations", OrganizationCreated.topic)

    @organizations.on(OrganizationCreated)
    async def on_organization_created(session, event: OrganizationCreated) -> None:
        """Remember the organization, so domains can be attached to it."""
        await service.add_organization(session, event)
