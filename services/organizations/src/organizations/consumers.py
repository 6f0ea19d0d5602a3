"""organizations' event handlers."""
from __future__ import annotations

from manager_shared.events import AccountRegistered
from manager_shared.runtime import ServiceRuntime

from .service import OrganizationsService


def register(runtime: ServiceRuntime, service: OrganizationsService) -> None:
    accounts = runtime.consumer("accounts", AccountRegistered.topic)

    @accounts.on(AccountRegistered)
    async def on_account_registered(session, event: AccountRegistered) -> None:
        """Sign-up → personal organization (IDN-02), through events only."""
        await service.create_personal_organization(session, event)
