"""Events published by domains.

`ProductProvisioned` / `ProductDeprovisioned` on `products.product.v1` (key:
product id) are the generic product-registry contract (ORG-05): domains emits
them for domain names, and any future provisioning service (mail service,
drive, hosting, backup, Support Premium, ticketing) publishes the same types
on the same topic with its own `producer` in the envelope (declared with
`runtime.produces("products.product.v1")`). organizations consumes them.
"""
from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .base import Event

# Kinds organizations knows the rights of (see organizations.products); another
# kind is still registered, with the `use` and `manage` rights only.
KNOWN_PRODUCT_KINDS = ("domain", "mail_service", "drive", "hosting", "backup", "support_premium", "ticketing")


class _ProductEvent(Event):
    topic: ClassVar[str] = "products.product.v1"
    producer_name: ClassVar[str] = "domains"
    key_field: ClassVar[str] = "product_id"

    product_id: UUID
    organization_id: UUID


class ProductProvisioned(_ProductEvent):
    """Sent by a provisioning service when a product now exists for an
    organization (a domain registered or transferred in, a mail service set
    up, ...). `kind` decides which right dimensions it has."""

    type: Literal["ProductProvisioned"] = "ProductProvisioned"
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: str = Field(min_length=1, max_length=253)
    # Defaults to the kind's own category in organizations when not given.
    category: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,39}$")


class ProductDeprovisioned(_ProductEvent):
    """Sent when a product no longer exists for its organization (released,
    transferred out, cancelled)."""

    type: Literal["ProductDeprovisioned"] = "ProductDeprovisioned"


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    ProductProvisioned,
    ProductDeprovisioned,
)
__all__ = [e.__name__ for e in EVENTS]
