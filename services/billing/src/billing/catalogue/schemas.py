"""Request and response models of the catalogue and subscriptions."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Period = Literal["monthly", "quarterly", "yearly"]
CurrencyCode = Literal["CHF", "EUR"]


class PriceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    period: str
    unit_price_minor: int
    min_quantity: int
    valid_from: dt.datetime


class OfferRead(BaseModel):
    code: str
    kind: str
    name: str
    vat_category: str
    renews: bool
    prices: list[PriceRead] = Field(description="Prices in force now, per currency and period (minor units per unit).")
    upcoming_prices: list[PriceRead] = Field(description="Price versions announced for a later date.")


class PriceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: CurrencyCode
    period: Period
    unit_price_minor: int = Field(ge=0, le=100_000_000, description="Per unit and period, in minor units.")
    min_quantity: int = Field(default=1, ge=1, le=100_000, description="The period is sold from this quantity.")
    valid_from: dt.datetime | None = Field(default=None, description="Default now; never in the past. With offset.")


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    organization_id: uuid.UUID
    product_kind: str
    product_name: str
    offer_code: str | None
    status: str
    quantity: int
    period: str
    next_period: str | None = Field(description="A period change waiting for the end of the paid term (BIL-05).")
    term_start: dt.date
    term_end: dt.date = Field(description="End (exclusive) of the term already paid.")
    auto_renew: bool
    renewal_warranty: bool


class RenewalRead(BaseModel):
    subscription: SubscriptionRead
    renewal_period: str
    next_term_start: dt.date
    next_term_end: dt.date
    currency: str
    unit_price_minor: int | None = Field(description="Catalogue price now; None when the offer has no such price.")
    amount_minor: int | None = Field(description="unit_price_minor × quantity, before VAT.")
    vat_category: str | None
    invoice_id: uuid.UUID | None = Field(description="The renewal invoice once issued (N days before the term "
                                                     "end, or on request): pay it to renew.")


class RenewalPage(BaseModel):
    items: list[RenewalRead]
    show_all: bool
    due_before: dt.date | None = Field(description="The horizon of the list; None with show_all.")


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_renew: bool | None = Field(default=None, description="BIL-04: pay the renewal from the prepaid balance.")
    renewal_warranty: bool | None = Field(default=None, description="DOM-06 Renewal Warranty.")
    period: Period | None = Field(default=None, description="BIL-05: applies from the end of the paid term.")
