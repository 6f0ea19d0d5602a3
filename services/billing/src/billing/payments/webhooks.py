"""A provider's webhooks: verified (signature, time), refused when replayed,
then handed to whatever the payment was for. Never commits."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import insert_if_absent
from manager_shared.errors import Conflict

from .models import WebhookReceipt
from .provider import PaymentProvider

RECEIPTS = WebhookReceipt.__table__

# (session, provider's payment/refund/payout reference, succeeded) -> True if it was this handler's
Handler = Callable[[AsyncSession, str, bool], Awaitable[bool]]


class WebhookReplayed(Conflict):
    code, message = "webhook_replayed", "This webhook was received before."


@dataclass
class Webhooks:
    provider: PaymentProvider
    clock: Clock
    charge_handlers: list[Handler] = field(default_factory=list)
    payout_handlers: list[Handler] = field(default_factory=list)

    async def receive(self, session: AsyncSession, headers: Mapping[str, str], body: bytes) -> str:
        """Apply one webhook; 'applied' or 'unknown' (a reference nothing here made)."""
        event = self.provider.verify_webhook(headers, body, self.clock.now())
        if not await insert_if_absent(session, RECEIPTS, {"provider": self.provider.name,
                                                          "webhook_id": event.webhook_id,
                                                          "received_at": self.clock.now()}):
            raise WebhookReplayed()
        subject, outcome = event.kind.split(".", 1)
        handlers = self.charge_handlers if subject == "charge" else self.payout_handlers
        succeeded = outcome in ("succeeded", "paid")
        for handler in handlers:
            if await handler(session, event.provider_ref, succeeded):
                return "applied"
        return "unknown"
