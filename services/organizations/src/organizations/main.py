"""Composition root of organizations: settings, runtime, services, app."""
from __future__ import annotations

from pathlib import Path

from manager_shared.access import OrgAccessStore
from manager_shared.clock import Clock, SystemClock
from manager_shared.runtime import ServiceRuntime

from . import __version__, api, api_access, api_admin, consumers
from .config import Settings
from .access_memory import AccessMemory
from .core import Core
from .details import DetailsService
from .invitations import InvitationsService
from .models import access_table, blocked_table, ended_table, inbox_table, outbox_table
from .policy import PolicyService
from .products import ProductsService
from .rights import RightsService
from .service import OrganizationsService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None):
    settings = settings or Settings()
    runtime = ServiceRuntime("organizations", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table, ended_table=ended_table)
    # organizations writes its own access projection with each change (no consumer of its own events)
    memory = AccessMemory(runtime.db, access_table, blocked_table, ended_table=ended_table,
                          interval=settings.access_refresh_seconds)
    core = Core(settings=settings, outbox=runtime.outbox, clock=clock or SystemClock(),
                access=OrgAccessStore(access_table, runtime.blocked), memory=memory)
    runtime.on_startup(memory.start)
    runtime.on_shutdown(memory.stop)
    service = OrganizationsService(core)
    policy, products, details = PolicyService(core), ProductsService(core), DetailsService(core, service)
    consumers.register(runtime, service, policy, products, details)
    app = runtime.create_app(version=__version__, routers=[api_access.router, api.router, api_admin.router],
                             description="Organizations, members, roles, product rights, teams and policies.")
    app.state.organizations = service
    app.state.core = core
    app.state.policy, app.state.products, app.state.details = policy, products, details
    app.state.rights = RightsService(core)
    app.state.invitations = InvitationsService(core, service)
    return app
