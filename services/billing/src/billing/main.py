"""Composition root of billing: settings, runtime, service, app."""
from __future__ import annotations

from pathlib import Path

from manager_shared.clock import Clock, SystemClock
from manager_shared.runtime import ServiceRuntime

from . import __version__, api, consumers
from .catalogue import wiring as catalogue_wiring
from .invoices.wiring import install as install_invoices
from .prepaid.wiring import install as install_prepaid
from .config import Settings
from .models import access_table, blocked_table, ended_table, inbox_table, member_table, outbox_table
from .service import BillingService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None):
    settings = settings or Settings()
    runtime = ServiceRuntime("billing", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table, ended_table=ended_table,
                             member_table=member_table, access_table=access_table)
    service = BillingService(outbox=runtime.outbox, clock=clock or SystemClock(), members=runtime.members,
                             access=runtime.access)
    consumers.register(runtime, service)
    clock = service.clock  # one clock for every feature package
    # catalogue, subscriptions and renewals (BIL-04/05): app.state.catalogue, .subscriptions, .renewals
    catalogue_parts = catalogue_wiring.install(runtime, clock, service)
    app = runtime.create_app(version=__version__, routers=[api.router, catalogue_parts.router],
                             description="Prepaid account, payments, invoices, catalogue and subscriptions.")
    app.state.billing = service
    catalogue_wiring.mount(app, catalogue_parts)
    # invoices, documents and bank transfers (BIL-06/07, BIL-03): app.state.invoices, .bank_transfers
    install_invoices(app, runtime, settings, clock)
    # prepaid account, card payments, withdrawals, standing (BIL-02/03/10, ORG-14): app.state.prepaid, .payments
    install_prepaid(app, runtime, settings, clock)
    return app
