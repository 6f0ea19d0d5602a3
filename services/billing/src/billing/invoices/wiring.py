"""Puts invoices on the app: `app.state.invoices`, `app.state.bank_transfers` and the routers."""
from __future__ import annotations

from manager_shared.clock import Clock
from manager_shared.runtime import ServiceRuntime

from ..config import Settings
from . import api, bank_api, consumers
from .bank import BankTransfers
from .service import Invoices


def install(app, runtime: ServiceRuntime, settings: Settings, clock: Clock) -> Invoices:
    invoices = Invoices(outbox=runtime.outbox, clock=clock, settings=settings, access=runtime.access)
    app.state.invoices = invoices
    consumers.register(runtime, invoices)
    app.state.bank_transfers = BankTransfers(invoices=invoices, outbox=runtime.outbox, clock=clock)
    app.include_router(api.router)
    app.include_router(bank_api.router)
    return invoices
