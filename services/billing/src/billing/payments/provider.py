"""The one interface every payment provider (PSP) adapter implements.

Adding a real PSP (Stripe, Datatrans, PostFinance Checkout) is one module
with a class like `payments.local_card.LocalCardProvider`: its `charge`,
`refund` and `payout` call the PSP's API (passing `reference` as the PSP's
idempotency key, so a retried request never charges twice) and map the
PSP's answer to the results below; `verify_webhook` checks the PSP's
signature scheme and maps its event to a `WebhookEvent`."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from manager_shared.errors import DomainError


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"  # 3-D Secure: the cardholder must confirm; a webhook tells the end
    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    provider_payment_id: str | None
    decline_reason: str | None = None
    action_url: str | None = None  # where the cardholder completes 3-D Secure


@dataclass(frozen=True)
class PayoutResult:
    """A refund or a bank payout: accepted (pending) until a webhook confirms or fails it."""

    provider_ref: str
    status: str = "pending"  # pending, succeeded, failed


@dataclass(frozen=True)
class WebhookEvent:
    webhook_id: str
    kind: str  # charge.succeeded, charge.failed, refund.succeeded, refund.failed, payout.paid, payout.failed
    provider_ref: str  # the payment, refund or payout it is about
    reason: str | None = None


class WebhookRejected(DomainError):
    code, status, message = "webhook_rejected", 400, "The webhook was not accepted."


class PaymentProvider(Protocol):
    name: str

    async def charge(self, *, amount_minor: int, currency: str, token: str, reference: str) -> ChargeResult:
        """Charge a card token once per `reference`."""

    async def refund(self, *, provider_payment_id: str, amount_minor: int, currency: str,
                     reference: str) -> PayoutResult:
        """Send (part of) a charge back to its card."""

    async def payout(self, *, iban: str, account_holder: str, amount_minor: int, currency: str,
                     reference: str) -> PayoutResult:
        """Pay an amount out to a bank account."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookEvent:
        """The webhook's event if its signature and time are right; WebhookRejected otherwise."""
