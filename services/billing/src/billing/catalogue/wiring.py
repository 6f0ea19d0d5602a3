"""How the catalogue and subscriptions join billing's process: one call from
main.py, so billing's main.py and consumers.py stay thin."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from manager_shared.clock import Clock
from manager_shared.events import ProductDeprovisioned, ProductProvisioned
from manager_shared.runtime import ServiceRuntime

from ..service import BillingService
from . import api, repository
from .models import RenewalClaim
from .renewals import Renewals
from .scheduler import RenewalScheduler
from .service import Catalogue
from .subscriptions import Subscriptions


@dataclass
class CatalogueParts:
    catalogue: Catalogue
    subscriptions: Subscriptions
    renewals: Renewals
    scheduler: RenewalScheduler
    router = api.router


def install(runtime: ServiceRuntime, clock: Clock, billing: BillingService) -> CatalogueParts:
    """Build the parts, seed the catalogue at start-up, follow the product
    registry, and run the renewal scheduler while the service runs."""
    s = runtime.settings
    catalogue = Catalogue(clock=clock)
    subscriptions = Subscriptions(outbox=runtime.outbox, clock=clock, catalogue=catalogue, billing=billing,
                                  renewals_horizon_months=s.renewals_horizon_months)
    renewals = Renewals(subscriptions)
    scheduler = RenewalScheduler(runtime.db, renewals, clock, days_before=s.renewal_invoice_days_before,
                                 interval_seconds=s.renewal_scan_interval_seconds)
    products = runtime.consumer("products", ProductProvisioned.topic)

    @products.on(ProductProvisioned)
    async def on_provisioned(session, event: ProductProvisioned) -> None:
        """A product created outside an order opens its subscription."""
        await subscriptions.open_from(session, event)

    @products.on(ProductDeprovisioned)
    async def on_deprovisioned(session, event: ProductDeprovisioned) -> None:
        """A product gone is not renewed any more."""
        await subscriptions.close_from(session, event)

    async def seed() -> None:
        await catalogue.seed(runtime.db)

    runtime.retention.add(RenewalClaim.__table__, repository.finished_claims, name="renewal_claim")
    runtime.on_startup(seed)
    runtime.on_started(scheduler.start)
    runtime.on_shutdown(scheduler.stop)
    return CatalogueParts(catalogue, subscriptions, renewals, scheduler)


def mount(app: FastAPI, parts: CatalogueParts) -> None:
    """Expose the parts on app.state and, at start-up, hand Invoices and
    Prepaid (app.state.invoices / .prepaid, the other parts of billing) to the
    renewal flow, before the scheduler starts."""
    app.state.catalogue, app.state.subscriptions = parts.catalogue, parts.subscriptions
    app.state.renewals, app.state.renewal_scheduler = parts.renewals, parts.scheduler
    runtime: ServiceRuntime = app.state.runtime

    async def attach() -> None:
        invoices, prepaid = getattr(app.state, "invoices", None), getattr(app.state, "prepaid", None)
        if invoices is not None and prepaid is not None and parts.renewals.invoices is None:
            parts.renewals.attach(invoices, prepaid)

    runtime.on_startup(attach)
