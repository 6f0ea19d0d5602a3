"""Requests that moved money outside and never answered (BIL-02/03).

A top-up or a payment charges the card before its unit of work commits. If
that unit of work then fails (the database went away at commit, the process
was killed, an unexpected error), the charge stands at the provider while
nothing here records it. The client's retry with the same Idempotency-Key
finds it: the key is released, and the provider answers the same reference
with the same charge. If nobody retries, this sweep is the compensating
step. Once a key has had no attempt for `idle_for` (longer than the
idempotency lease), it is closed for good (409 request_abandoned) and
whatever its reference charged is voided at the provider. The close and the
void happen in one transaction: a provider that does not answer leaves the
key for the next sweep, and a void is idempotent."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.metrics import BUSINESS_EVENTS

from ..prepaid.idempotency import IdempotentRequests
from .provider import PaymentProvider

log = logging.getLogger(__name__)


@dataclass
class AbandonedRequests:
    idempotency: IdempotentRequests
    provider: PaymentProvider
    idle_for: timedelta

    async def sweep(self, session: AsyncSession) -> int:
        """Close the abandoned keys and void their charges; how many were closed."""
        closed = await self.idempotency.close_unfinished(session, self.idle_for)
        for claim in closed:
            voided = await self.provider.void(reference=claim.reference)
            outcome = "charge_voided" if voided else "nothing_charged"
            BUSINESS_EVENTS.labels("billing", "abandoned_request", outcome).inc()
            if voided:  # no key, no reference in the log: the scope names the caller and organization
                log.warning("abandoned request of %s: its card charge was voided", claim.scope)
        return len(closed)
