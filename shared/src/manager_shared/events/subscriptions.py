"""Events published by billing about subscriptions, on `billing.subscription.v1`
(key: product id, so every fact about one product stays in order).

A subscription is billing's view of a product that renews (BIL-04, BIL-05):
its offer, period, current paid term and renewal settings. Provisioning
services (domains first) follow `SubscriptionRenewed` to extend the product
at its registry; notifications turns `RenewalDue` into a message.
"""
from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .base import Event

Period = Literal["monthly", "quarterly", "yearly"]


class _SubscriptionEvent(Event):
    topic: ClassVar[str] = "billing.subscription.v1"
    producer_name: ClassVar[str] = "billing"
    key_field: ClassVar[str] = "product_id"

    product_id: UUID
    organization_id: UUID


class SubscriptionOpened(_SubscriptionEvent):
    """Sent when billing starts billing a product that renews: its offer,
    period and the end of the term already covered."""

    type: Literal["SubscriptionOpened"] = "SubscriptionOpened"
    offer_code: str
    period: Period
    quantity: int = Field(ge=1)
    term_start: dt.date
    term_end: dt.date


class SubscriptionClosed(_SubscriptionEvent):
    """Sent when a product's subscription ends (the product was deprovisioned):
    it is not renewed or billed any more."""

    type: Literal["SubscriptionClosed"] = "SubscriptionClosed"


class SubscriptionRenewed(_SubscriptionEvent):
    """Sent when the invoice renewing a product was paid: the product is
    covered until `term_end` (the provisioning service extends it)."""

    type: Literal["SubscriptionRenewed"] = "SubscriptionRenewed"
    offer_code: str
    period: Period
    term_start: dt.date
    term_end: dt.date
    invoice_id: UUID


class SubscriptionPeriodChanged(_SubscriptionEvent):
    """Sent when the billing period of a product is changed (BIL-05): it
    applies from `effective_from` (the end of the paid term), with the payment
    of the invoice at the new period; `next_period` None cancels a change."""

    type: Literal["SubscriptionPeriodChanged"] = "SubscriptionPeriodChanged"
    period: Period
    next_period: Period | None
    effective_from: dt.date
    changed_by: UUID


class SubscriptionSettingsChanged(_SubscriptionEvent):
    """Sent when automatic renewal (BIL-04) or the Renewal Warranty (DOM-06)
    of a product is switched on or off."""

    type: Literal["SubscriptionSettingsChanged"] = "SubscriptionSettingsChanged"
    auto_renew: bool
    renewal_warranty: bool
    changed_by: UUID


class RenewalDue(_SubscriptionEvent):
    """Sent when a renewal invoice was issued and not paid automatically
    (auto-renew off or the prepaid balance too low): the organization is told
    what to pay by when. `due_date` is the end of the current term."""

    type: Literal["RenewalDue"] = "RenewalDue"
    product_name: str
    offer_code: str
    period: Period
    invoice_id: UUID
    invoice_number: str | None = None
    amount_minor: int = Field(ge=0)
    currency: Literal["CHF", "EUR"]
    due_date: dt.date
    auto_renew: bool
    reason: Literal["auto_renew_off", "prepaid_balance_too_low"]


# Every event of this module, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    SubscriptionOpened,
    SubscriptionClosed,
    SubscriptionRenewed,
    SubscriptionPeriodChanged,
    SubscriptionSettingsChanged,
    RenewalDue,
)
__all__ = [e.__name__ for e in EVENTS]
