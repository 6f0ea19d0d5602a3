"""Composition root of domains: settings, runtime, service, app."""
from __future__ import annotations

from pathlib import Path

from manager_shared.clock import Clock, SystemClock
from manager_shared.runtime import ServiceRuntime

from . import __version__, api, consumers
from .config import Settings
from .models import access_table, blocked_table, ended_table, inbox_table, member_table, outbox_table
from .service import DomainsService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None):
    settings = settings or Settings()
    runtime = ServiceRuntime("domains", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table, ended_table=ended_table,
                             member_table=member_table, access_table=access_table)
    service = DomainsService(outbox=runtime.outbox, clock=clock or SystemClock(), members=runtime.members,
                             access=runtime.access)
    consumers.register(runtime, service)
    app = runtime.create_app(version=__version__, routers=[api.router],
                             description="Domain registrations: expiry, renewal, redemption and restore.")
    app.state.domains = service
    return app
