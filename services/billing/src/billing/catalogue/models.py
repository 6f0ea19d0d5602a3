"""Tables of this feature; they join billing's one registry (billing.models.Base).

The catalogue is versioned data: an offer's prices are never updated in place,
a change is a new `CataloguePrice` row with a later `valid_from`, so the price
an invoice used can always be found again.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlmodel import Field

from manager_shared.db import UtcDateTime

from ..models import Base


class CatalogueOffer(Base, table=True):
    """Something billing sells: `<kind>.<variant>` (mail_service.standard), and
    for domain names `domain.<tld>.<operation>` (domain.ch.renew)."""

    __tablename__ = "catalogue_offer"

    code: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=40, index=True)
    name: str = Field(max_length=200)
    vat_category: str = Field(max_length=40)
    # True when a product with this offer renews (a subscription); register
    # and restore fees are one-off charges.
    renews: bool = Field(default=True)
    created_at: dt.datetime = Field(sa_type=UtcDateTime())


class CataloguePrice(Base, table=True):
    """One price version of an offer, per currency and period; the price at a
    time is the one with the latest `valid_from` not after it."""

    __tablename__ = "catalogue_price"
    __table_args__ = (
        sa.UniqueConstraint("offer_code", "currency", "period", "valid_from", name="uq_catalogue_price_version"),
        sa.CheckConstraint("unit_price_minor >= 0", name="ck_catalogue_price_not_negative"),
        sa.CheckConstraint("min_quantity >= 1", name="ck_catalogue_price_min_quantity"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    offer_code: str = Field(foreign_key="catalogue_offer.code", max_length=80)
    currency: str = Field(max_length=3)
    period: str = Field(max_length=20)
    unit_price_minor: int = Field(sa_type=sa.BigInteger())
    # BIL-05 "only above a quantity": the period is offered from this many units.
    min_quantity: int = Field(default=1)
    valid_from: dt.datetime = Field(sa_type=UtcDateTime())
    created_at: dt.datetime = Field(sa_type=UtcDateTime())
    created_by: uuid.UUID | None = Field(default=None)


class Subscription(Base, table=True):
    """A product that renews, keyed by the product id every service uses.
    `term_end` is the end (exclusive) of the term already paid;
    `next_period` is a period change waiting for the payment of the invoice
    at that period (BIL-05)."""

    __tablename__ = "subscription"

    product_id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    product_kind: str = Field(max_length=40)
    product_name: str = Field(max_length=253)
    # None: a product kind the catalogue does not bill (recorded, never invoiced).
    offer_code: str | None = Field(default=None, max_length=80)
    status: str = Field(max_length=20)  # active | not_billable | closed
    quantity: int = Field(default=1)
    period: str = Field(max_length=20)
    next_period: str | None = Field(default=None, max_length=20)
    term_start: dt.date
    term_end: dt.date = Field(index=True)
    # The day of month the first term started: terms end on it, clamped to short months (periods.add_months).
    anchor_day: int | None = Field(default=None)
    auto_renew: bool = Field(default=False)
    renewal_warranty: bool = Field(default=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime())
    updated_at: dt.datetime = Field(sa_type=UtcDateTime())


class RenewalClaim(Base, table=True):
    """One row per renewal invoiced (product, term it renews): the first
    replica to insert it issues the invoice; any other finds it and skips."""

    __tablename__ = "renewal_claim"

    product_id: uuid.UUID = Field(primary_key=True)
    term_end: dt.date = Field(primary_key=True)
    invoice_id: uuid.UUID | None = Field(default=None)
    # issued | paid_from_prepaid | due | invoiced_on_request | cancelled (invoice_id then None)
    outcome: str = Field(max_length=30)
    created_at: dt.datetime = Field(sa_type=UtcDateTime())
