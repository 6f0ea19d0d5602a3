"""Payments' HTTP API: the providers' webhooks, and the local provider's
simulator (what a PSP's test mode offers: complete or fail 3-D Secure,
settle a refund or payout), which calls the webhook with a valid signature."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.errors import Forbidden, NotFound
from manager_shared.runtime import current_principal

from ..db import get_session
from .local_card import LocalCardProvider

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["succeeded", "failed"]


class WebhookAnswer(BaseModel):
    status: Literal["applied", "unknown"]


class ProviderNotFound(NotFound):
    code, message = "payment_provider_not_found", "No such payment provider."


class OperatorScopeRequired(Forbidden):
    code, message = "billing_scope_required", "This needs the billing operator scope."


@router.post("/webhooks/{provider}", response_model=WebhookAnswer)
async def webhook(provider: str, request: Request, session: AsyncSession = Depends(get_session, scope="function")):
    """A payment provider's webhook: signed (HMAC-SHA256 over "timestamp.body"),
    at most 5 minutes old, each id once (409 webhook_replayed)."""
    webhooks = request.app.state.webhooks
    if provider != webhooks.provider.name:
        raise ProviderNotFound()
    return WebhookAnswer(status=await webhooks.receive(session, request.headers, await request.body()))


def local_provider(request: Request) -> LocalCardProvider:
    provider = request.app.state.webhooks.provider
    if not isinstance(provider, LocalCardProvider):
        raise ProviderNotFound()
    return provider


@router.post("/local/challenges/{payment_id}", response_model=WebhookAnswer)
async def local_challenge(payment_id: str, body: Outcome, request: Request,
                          _who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Local provider only: the cardholder completes (or fails) the 3-D Secure
    challenge of `payment_id`; the provider then sends its signed webhook."""
    provider = local_provider(request)
    succeeded = body.outcome == "succeeded" and not provider.voided(payment_id)  # a voided payment cannot complete
    kind = "charge.succeeded" if succeeded else "charge.failed"
    headers, raw = provider.webhook(kind, payment_id, request.app.state.webhooks.clock.now())
    return WebhookAnswer(status=await request.app.state.webhooks.receive(session, headers, raw))


@router.post("/local/settlements/{provider_ref}", response_model=WebhookAnswer)
async def local_settlement(provider_ref: str, body: Outcome, request: Request,
                           who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Local provider only, operators (scope billing): a refund to a card
    (lre_…) or a bank payout (lpo_…) is confirmed or fails, by signed webhook."""
    if "billing" not in who.scopes:
        raise OperatorScopeRequired()
    provider = local_provider(request)
    subject = "payout" if provider_ref.startswith("lpo_") else "refund"
    succeeded = body.outcome == "succeeded" and not provider.voided(provider_ref)  # a voided transfer fails
    outcome = ("paid" if subject == "payout" else "succeeded") if succeeded else "failed"
    headers, raw = provider.webhook(f"{subject}.{outcome}", provider_ref, request.app.state.webhooks.clock.now())
    return WebhookAnswer(status=await request.app.state.webhooks.receive(session, headers, raw))
