"""Events invoices follow (its own consumer group)."""
from __future__ import annotations

from manager_shared.events import OrganizationDeleted
from manager_shared.runtime import ServiceRuntime

from .deletion import mail_paid_invoices
from .service import Invoices


def register(runtime: ServiceRuntime, invoices: Invoices) -> None:
    organizations = runtime.consumer("invoices", OrganizationDeleted.topic)

    @organizations.on(OrganizationDeleted)
    async def on_organization_deleted(session, event: OrganizationDeleted) -> None:
        """ORG-14: the paid invoices to the requester, when asked."""
        await mail_paid_invoices(session, invoices.outbox, event)
