"""Puts the prepaid account and the payment means on the app:
app.state.prepaid / .top_ups / .withdrawals / .webhooks / .idempotency,
their routers, the retention of idempotency keys and webhook ids, and the
sweep that expires abandoned 3-D Secure attempts."""
from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from manager_shared.background import cancel_and_wait
from manager_shared.clock import Clock
from manager_shared.runtime import ServiceRuntime

from ..config import Settings
from ..payments import api as payments_api, pay_api
from ..payments.abandoned import AbandonedRequests
from ..payments.local_card import LocalCardProvider
from ..payments.models import WebhookReceipt
from ..payments.selection import Payments
from ..payments.webhooks import Webhooks
from . import api
from .idempotency import IdempotentRequests
from .limits import TopUpLimits
from .models import IdempotencyKey
from .service import Prepaid
from .top_ups import TopUps
from .withdrawals import Withdrawals

log = logging.getLogger(__name__)


def provider_for(settings: Settings):
    """The configured PSP adapter; a real one is one more branch here."""
    if settings.payment_provider == "local":
        # No secret set: one per process, enough for the local provider that signs its own webhooks.
        return LocalCardProvider(settings.local_psp_webhook_secret or secrets.token_urlsafe(32),
                                 tolerance_seconds=settings.webhook_tolerance_seconds)
    raise ValueError(f"unknown payment provider {settings.payment_provider!r}")


def install(app, runtime: ServiceRuntime, settings: Settings, clock: Clock) -> Prepaid:
    provider = provider_for(settings)
    prepaid = Prepaid(outbox=runtime.outbox, clock=clock)
    limits = TopUpLimits(minimum_minor=settings.prepaid_top_up_min_minor,
                         maximum_minor=settings.prepaid_top_up_max_minor,
                         daily_maximum_minor=settings.prepaid_top_up_daily_max_minor)
    pending_for = timedelta(minutes=settings.pending_payment_expiry_minutes)
    top_ups = TopUps(prepaid=prepaid, provider=provider, outbox=runtime.outbox, clock=clock, limits=limits,
                     pending_for=pending_for)
    withdrawals = Withdrawals(prepaid=prepaid, provider=provider, outbox=runtime.outbox, clock=clock)
    # BIL-03: paying invoices needs part I's app.state.invoices (installed before this)
    payments = Payments(prepaid=prepaid, invoices=app.state.invoices, provider=provider, outbox=runtime.outbox,
                        clock=clock, pending_for=pending_for)
    webhooks = Webhooks(provider=provider, clock=clock, charge_handlers=[top_ups.completed, payments.completed],
                        payout_handlers=[withdrawals.settled])
    app.state.prepaid, app.state.top_ups, app.state.withdrawals = prepaid, top_ups, withdrawals
    app.state.payments = payments
    app.state.webhooks = webhooks
    app.state.idempotency = IdempotentRequests(runtime.db, clock, lease_seconds=settings.idempotency_lease_seconds)
    abandoned = AbandonedRequests(app.state.idempotency, provider,
                                  timedelta(minutes=settings.abandoned_request_minutes))
    app.state.payment_sweeps = [top_ups.expire, payments.expire, abandoned.sweep]
    app.include_router(api.router)
    app.include_router(payments_api.router)
    app.include_router(pay_api.router)
    # keys after their replay window; webhook ids long after their 5-minute tolerance
    key_table, receipts = IdempotencyKey.__table__, WebhookReceipt.__table__
    runtime.retention.keep_for(key_table, key_table.c.created_at, timedelta(hours=settings.idempotency_keep_hours))
    runtime.retention.keep_for(receipts, receipts.c.received_at, timedelta(days=1))
    sweeper = Sweeper(runtime, app.state.payment_sweeps, settings.payment_sweep_interval_seconds)
    runtime.on_started(sweeper.start)
    runtime.on_shutdown(sweeper.stop)
    app.state.payment_sweeper = sweeper
    return prepaid


class Sweeper:
    """Every interval, abandoned pending payments expire (one transaction per kind)."""

    def __init__(self, runtime: ServiceRuntime, sweeps: list, interval_seconds: float) -> None:
        self.runtime, self.sweeps, self.interval = runtime, sweeps, interval_seconds
        self._task: asyncio.Task | None = None

    async def sweep_once(self) -> int:
        done = 0
        for sweep in self.sweeps:
            async with self.runtime.db.transaction() as session:
                done += await sweep(session)
        return done

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)  # first after an interval: nothing is due at start-up
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database busy or down: the next interval tries again
                log.warning("payment sweep failed (%s)", type(exc).__name__)

    async def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="billing-payment-sweep")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
