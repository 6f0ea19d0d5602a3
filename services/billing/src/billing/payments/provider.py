"""The one interface every payment provider (PSP) adapter implements.

Adding a real PSP (Stripe, Datatrans, PostFinance Checkout) is one module
with a class like `payments.local_card.LocalCardProvider`: its `charge`,
`refund` and `payout` call the PSP's API (passing `reference` as the PSP's
idempotency key, so a retried request never charges twice) and map the
PSP's answer to the results below; `verify_webhook` checks the PSP's
signature scheme and maps its event to a `WebhookEvent`. A timeout, a 5xx or
a network error of the PSP raises `ProviderUnavailable`, never anything else."""
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


class ProviderUnavailable(DomainError):
    """The PSP did not answer (timeout, its 5xx, the network): whether it
    acted is unknown. The request's unit of work rolls back and its
    Idempotency-Key is released, not answered: the same request again runs
    with the same PSP reference, and the PSP's own record of the first try
    (charged or not) decides, so nothing is charged or paid out twice."""

    code, status = "payment_provider_unavailable", 503
    message = "The payment provider did not answer: nothing was recorded. Send the same request again."
    retryable = True  # DomainError's flag: prepaid.idempotency releases the key instead of storing this answer

    def __init__(self, message: str | None = None, **details) -> None:
        super().__init__(message, **details)
        self.headers["Retry-After"] = "5"


# The OpenAPI entry of every route that calls the provider.
PROVIDER_UNAVAILABLE = {503: {"description": "The payment provider did not answer: nothing was recorded and the "
                                             "Idempotency-Key is free; send the same request again (Retry-After)"}}


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

    async def void(self, *, reference: str) -> bool:
        """Undo what a request started under `reference`: the charge made
        with that reference (cancelled, or refunded in full), and every refund
        or payout whose reference is `<reference>/<part>` (cancelled before it
        settles); refuse that reference from now on. True if there was
        anything. For requests abandoned after they reached the PSP
        (payments.abandoned); an adapter finds the parts by the metadata it
        tagged them with."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookEvent:
        """The webhook's event if its signature and time are right; WebhookRejected otherwise."""
