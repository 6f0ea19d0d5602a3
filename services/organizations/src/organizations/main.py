"""Composition root of organizations: settings, runtime, service, app."""
from __future__ import annotations

from pathlib import Path

from manager_shared.clock import Clock, SystemClock
from manager_shared.runtime import ServiceRuntime

from . import __version__, api, consumers
from .config import Settings
from .models import blocked_table, inbox_table, outbox_table
from .service import OrganizationsService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None):
    settings = settings or Settings()
    runtime = ServiceRuntime("organizations", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table)
    service = OrganizationsService(settings=settings, outbox=runtime.outbox, clock=clock or SystemClock())
    consumers.register(runtime, service)
    app = runtime.create_app(version=__version__, routers=[api.router],
                             description="Organizations, members, roles, product rights, teams and policies.")
    app.state.organizations = service
    return app
