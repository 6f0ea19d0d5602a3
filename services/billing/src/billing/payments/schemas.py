"""Bodies of the payment API (money: integer minor units + currency)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    renewal_product_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100,
        description="Products whose next renewal is paid with the selection: their renewal invoice is issued now "
                    "(the one the scheduler would issue) and paid with the rest (BIL-03/04).")
    use_prepaid: bool = Field(description="The prepaid balance pays the whole or a part; the card the rest.")
    card_token: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="The PSP's token of the card (needed unless prepaid covers all).")

    @model_validator(mode="after")
    def _something_selected(self) -> "PaymentIn":
        if not self.invoice_ids and not self.renewal_product_ids:
            raise ValueError("select at least one invoice or renewal")
        return self


class PaymentRead(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "succeeded", "failed", "expired", "credited", "refunded"]
    invoice_ids: list[uuid.UUID]
    prepaid_minor: int
    card_minor: int
    currency: str
    failure_reason: str | None = None
    action_url: str | None = Field(default=None, description="Where the cardholder completes 3-D Secure.")
    expires_at: datetime | None = None
