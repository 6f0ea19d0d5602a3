"""Money in billing: integer minor units (centimes, cents) with a currency,
never floats. One rounding rule for every computed amount: half away from
zero to the minor unit (the usual commercial rule; Swiss 5-centime cash
rounding does not apply to invoices paid by card, prepaid or transfer)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Currency = Literal["CHF", "EUR"]
CURRENCIES: tuple[str, ...] = ("CHF", "EUR")
MINOR_PER_MAJOR = 100  # both currencies have 2 decimals


def round_minor(value: Decimal) -> int:
    """A computed amount in minor units (e.g. a VAT share) rounded to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share(amount_minor: int, rate: Decimal) -> int:
    """`rate` (e.g. Decimal("0.081") for 8.1 %) of an amount, rounded by the rule above."""
    return round_minor(Decimal(amount_minor) * rate)


def to_decimal(amount_minor: int) -> Decimal:
    """For display and documents only (PDF, CSV, QR-bill): 12345 → Decimal('123.45')."""
    return (Decimal(amount_minor) / MINOR_PER_MAJOR).quantize(Decimal("0.01"))


def format_amount(amount_minor: int, currency: str, locale: str = "en") -> str:
    """The amount as the reader's locale writes it (Babel): 'CHF 1’234.50' in de_CH."""
    from babel.numbers import format_currency

    return format_currency(to_decimal(amount_minor), currency, locale=locale)
