"""Events published by billing on `billing.account.v1` (key: organization id)."""
from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from .base import Event


class BillingAccountOpened(Event):
    """Sent when billing has opened the billing account of an organization
    (BIL-01), with the currency its invoices will use."""

    topic: ClassVar[str] = "billing.account.v1"
    producer_name: ClassVar[str] = "billing"
    key_field: ClassVar[str] = "organization_id"

    type: Literal["BillingAccountOpened"] = "BillingAccountOpened"
    organization_id: UUID
    billing_account_id: UUID
    currency: Literal["CHF", "EUR"]


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    BillingAccountOpened,
)
__all__ = [e.__name__ for e in EVENTS]
