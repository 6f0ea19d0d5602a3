"""Request and response bodies of the prepaid API (money: integer minor units + currency)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..money import Currency


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# An upper bound for amounts in requests: far above any limit, well within the
# database's 64-bit integers (an unbounded int overflowed SQLite: a 500, X-03).
MAX_AMOUNT_MINOR = 10**12


class TopUpIn(_Body):
    amount_minor: int = Field(le=MAX_AMOUNT_MINOR, description="In minor units (centimes, cents).")
    currency: Currency
    card_token: str = Field(min_length=1, max_length=200, description="The PSP's token of the card, never its number.")


class WithdrawalIn(_Body):
    amount_minor: int = Field(le=MAX_AMOUNT_MINOR)
    currency: Currency
    destination: Literal["card", "iban"] = Field(
        description="card: back to the cards it came from (oldest top-ups first); iban: a bank payout.")
    iban: str | None = Field(default=None, max_length=50)
    account_holder: str | None = Field(default=None, max_length=140)


class BalanceRead(BaseModel):
    organization_id: uuid.UUID
    balance_minor: int
    currency: str


class EntryRead(BaseModel):
    seq: int
    kind: str
    amount_minor: int
    currency: str
    balance_after_minor: int
    cause: str
    reference: str
    created_at: datetime


class EntriesPage(BaseModel):
    items: list[EntryRead]
    next_before_seq: int | None = Field(description="Pass as before_seq for the next (older) page; null at the end.")


class TopUpRead(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "succeeded", "failed", "expired", "refunded"]
    amount_minor: int
    currency: str
    failure_reason: str | None = None
    action_url: str | None = Field(default=None, description="Where the cardholder completes 3-D Secure.")
    expires_at: datetime | None = None
    created_at: datetime


class WithdrawalPartRead(BaseModel):
    amount_minor: int
    status: str
    top_up_id: uuid.UUID | None = None
    provider_ref: str | None = Field(default=None, description="The provider's refund or payout reference.")


class WithdrawalRead(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "completed", "failed", "partially_failed"]
    amount_minor: int
    currency: str
    destination: str
    iban_last4: str | None = None
    parts: list[WithdrawalPartRead]
    created_at: datetime
