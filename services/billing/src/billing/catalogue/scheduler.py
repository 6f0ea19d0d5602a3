"""The renewal scheduler (BIL-04): every replica runs it; each pass issues the
renewal invoice of every subscription whose term ends within
`days_before` days and whose term was not invoiced yet.

Safe with several replicas: each subscription is renewed in its own
transaction that (on PostgreSQL) locks its row with SKIP LOCKED, so two
replicas work on different rows, and first inserts the claim row
(product, term end) of the renewal: a replica that finds the claim, or
loses the race to insert it (the insert waits for the winner's commit and
then does nothing), leaves it alone. No invoice twice, none skipped: a
failed renewal rolls its claim back and is picked up again next pass.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field

from manager_shared.background import cancel_and_wait
from manager_shared.clock import Clock
from manager_shared.db import Database
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from .renewals import Renewals

log = logging.getLogger(__name__)


@dataclass
class RenewalScheduler:
    db: Database
    renewals: Renewals
    clock: Clock
    days_before: int = 14
    interval_seconds: float = 300.0
    batch_size: int = 100
    _task: asyncio.Task | None = field(default=None, init=False)

    def horizon(self) -> dt.date:
        """Terms ending on or before this day are due for their renewal invoice."""
        return self.clock.now().date() + dt.timedelta(days=self.days_before)

    async def run_once(self) -> dict[str, int]:
        """One pass over every due subscription; returns the outcomes counted."""
        counts: dict[str, int] = {}
        seen: set = set()  # tried in this pass: one that stays unclaimed waits for the next pass
        while True:
            async with self.db.transaction() as session:
                due = [p for p in await repo.due_for_renewal(session, self.horizon(), self.batch_size + len(seen))
                       if p not in seen]
            if not due:
                return counts
            for product_id in due:
                seen.add(product_id)
                outcome = await self._renew_one(product_id)
                counts[outcome] = counts.get(outcome, 0) + 1
                # business_operations_total{operation="renewal"}: paid_from_prepaid, due, skipped, failed
                BUSINESS_EVENTS.labels("billing", "renewal", outcome).inc()

    async def _renew_one(self, product_id) -> str:
        try:
            async with self.db.transaction() as session:
                sub = await repo.lock_due(session, product_id, self.horizon(), skip_locked=not self.db.is_sqlite)
                if sub is None:  # renewed meanwhile, or another replica holds it
                    return "skipped"
                return await self.renewals.renew(session, sub) or "skipped"
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad subscription must not stop the others; retried next pass
            log.exception("renewal of product %s failed; retried next pass", product_id)
            return "failed"

    async def run(self) -> None:
        while True:
            try:
                counts = await self.run_once()
                if counts:
                    log.info("renewals: %s", counts)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: try again at the next interval
                log.warning("renewals: pass failed (%s), next in %.0fs", type(exc).__name__, self.interval_seconds)
            await asyncio.sleep(self.interval_seconds)

    async def start(self) -> None:
        if self.interval_seconds > 0:
            self._task = asyncio.create_task(self.run(), name="billing-renewals")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
