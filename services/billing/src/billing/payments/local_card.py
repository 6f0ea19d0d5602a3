"""A local payment provider that behaves like a real PSP's test mode: card
tokens decide the outcome, 3-D Secure and payouts complete later through a
signed webhook, which its simulator endpoints send (payments/api.py).

Test card tokens:
  tok_visa, tok_mastercard   succeed
  tok_declined               declined (do_not_honor)
  tok_insufficient_funds     insufficient funds
  tok_3ds                    3-D Secure: pending until the challenge is completed or failed
  tok_provider_down          the PSP does not answer and charges nothing (ProviderUnavailable)
  tok_answer_lost            the PSP charges, but its answer is lost on the way (ProviderUnavailable);
                             the same reference again gets the recorded success, as from a real PSP
  anything else              declined (invalid_card_token)

Webhooks: header `Local-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the shared secret>`; body {"id", "type", "ref", "reason"}."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import datetime

from .provider import (ChargeResult, ChargeStatus, PayoutResult, ProviderUnavailable, WebhookEvent,
                       WebhookRejected)

SIGNATURE_HEADER = "local-signature"
REMEMBERED_CHARGES = 10_000
WEBHOOK_KINDS = frozenset({"charge.succeeded", "charge.failed", "refund.succeeded", "refund.failed",
                           "payout.paid", "payout.failed"})
_OUTCOMES = {
    "tok_visa": (ChargeStatus.SUCCEEDED, None), "tok_mastercard": (ChargeStatus.SUCCEEDED, None),
    "tok_declined": (ChargeStatus.DECLINED, "do_not_honor"),
    "tok_insufficient_funds": (ChargeStatus.INSUFFICIENT_FUNDS, "insufficient_funds"),
    "tok_3ds": (ChargeStatus.REQUIRES_ACTION, None),
}


def _keep(memory: dict, key: str, value) -> None:
    """Remember, as a PSP does; a long-running process stays small: oldest first out."""
    memory[key] = value
    if len(memory) > REMEMBERED_CHARGES:
        del memory[next(iter(memory))]


class LocalCardProvider:
    name = "local"

    def __init__(self, secret: str, *, tolerance_seconds: int = 300,
                 challenge_url: str = "/v1/payments/local/challenges") -> None:
        if not secret:
            raise ValueError("the local provider needs a webhook secret")
        self.secret, self.tolerance_seconds, self.challenge_url = secret.encode(), tolerance_seconds, challenge_url
        # like a PSP's idempotency keys: the same reference gets the same answer, no second charge
        self._by_reference: dict[str, ChargeResult] = {}
        self._voided: set[str] = set()
        self._transfers: dict[str, str] = {}  # refund or payout: our reference -> the provider's

    async def charge(self, *, amount_minor: int, currency: str, token: str, reference: str) -> ChargeResult:
        if reference in self._by_reference:
            return self._by_reference[reference]
        if token == "tok_provider_down":
            raise ProviderUnavailable()
        if token == "tok_answer_lost":
            self._remember(reference, ChargeResult(status=ChargeStatus.SUCCEEDED,
                                                   provider_payment_id=f"lch_{uuid.uuid4().hex}"))
            raise ProviderUnavailable()
        status, reason = _OUTCOMES.get(token, (ChargeStatus.DECLINED, "invalid_card_token"))
        payment_id = f"lch_{uuid.uuid4().hex}" if status != ChargeStatus.DECLINED or token in _OUTCOMES else None
        url = f"{self.challenge_url}/{payment_id}" if status == ChargeStatus.REQUIRES_ACTION else None
        result = ChargeResult(status=status, provider_payment_id=payment_id, decline_reason=reason, action_url=url)
        self._remember(reference, result)
        return result

    async def void(self, *, reference: str) -> bool:
        earlier = self._by_reference.get(reference)
        self._remember(reference, ChargeResult(status=ChargeStatus.DECLINED, provider_payment_id=None,
                                               decline_reason="voided"))
        if earlier is not None and earlier.provider_payment_id is not None:
            self._voided.add(earlier.provider_payment_id)  # a 3-D Secure challenge completed later fails
        transfers = [ref for key, ref in self._transfers.items() if key.startswith(f"{reference}/")]
        self._voided.update(transfers)  # refunds and payouts the request started: cancelled before they settle
        charged = earlier is not None and earlier.status in (ChargeStatus.SUCCEEDED, ChargeStatus.REQUIRES_ACTION)
        return charged or bool(transfers)

    def voided(self, provider_payment_id: str) -> bool:
        return provider_payment_id in self._voided

    def _remember(self, reference: str, result: ChargeResult) -> None:
        _keep(self._by_reference, reference, result)

    async def refund(self, *, provider_payment_id: str, amount_minor: int, currency: str,
                     reference: str) -> PayoutResult:
        return self._transfer("lre", reference)

    async def payout(self, *, iban: str, account_holder: str, amount_minor: int, currency: str,
                     reference: str) -> PayoutResult:
        return self._transfer("lpo", reference)

    def _transfer(self, prefix: str, reference: str) -> PayoutResult:
        """The same reference, the same transfer (the PSP's idempotency)."""
        ref = f"{prefix}_{uuid.uuid5(uuid.NAMESPACE_URL, reference).hex}"
        _keep(self._transfers, reference, ref)
        return PayoutResult(provider_ref=ref)

    # -- webhooks ---------------------------------------------------------
    def signature(self, body: bytes, timestamp: int) -> str:
        mac = hmac.new(self.secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={mac}"

    def webhook(self, kind: str, ref: str, now: datetime, *, reason: str | None = None) -> tuple[dict[str, str], bytes]:
        """A signed webhook as the PSP would send it (the simulator and tests use it)."""
        body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": kind, "ref": ref, "reason": reason}).encode()
        return {SIGNATURE_HEADER: self.signature(body, int(now.timestamp()))}, body

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookEvent:
        parts = dict(p.split("=", 1) for p in (headers.get(SIGNATURE_HEADER) or "").split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
            raise WebhookRejected("The webhook has no signature.", code="webhook_signature_missing")
        expected = self.signature(body, int(parts["t"])).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts["v1"]):
            raise WebhookRejected("The webhook's signature is wrong.", code="webhook_signature_invalid")
        # checked after the signature: an attacker cannot move a signed timestamp
        if abs(now.timestamp() - int(parts["t"])) > self.tolerance_seconds:
            raise WebhookRejected("The webhook is too old or from the future.",
                                  code="webhook_timestamp_out_of_tolerance")
        try:
            data = json.loads(body)
            event = WebhookEvent(webhook_id=str(data["id"]), kind=str(data["type"]), provider_ref=str(data["ref"]),
                                 reason=data.get("reason"))
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("The webhook's body is malformed.", code="webhook_malformed") from None
        if event.kind not in WEBHOOK_KINDS or not event.webhook_id or len(event.webhook_id) > 100:
            raise WebhookRejected("The webhook's body is malformed.", code="webhook_malformed")
        return event
