"""Pure rules of a top-up's amount (BIL-02): checked before any money moves."""
from __future__ import annotations

from dataclasses import dataclass

from ..money import CURRENCIES
from .errors import AmountAboveMaximum, AmountBelowMinimum, AmountNotPositive, CurrencyMismatch, DailyTopUpLimitReached


@dataclass(frozen=True)
class TopUpLimits:
    minimum_minor: int = 1_000
    maximum_minor: int = 500_000
    daily_maximum_minor: int = 1_000_000


def check_amount(limits: TopUpLimits, amount_minor: int, currency: str, account_currency: str) -> None:
    """The amount alone: positive, within one top-up's limits, in the account's currency."""
    if currency not in CURRENCIES or currency != account_currency:
        raise CurrencyMismatch(currency=account_currency)
    if amount_minor <= 0:
        raise AmountNotPositive()
    if amount_minor < limits.minimum_minor:
        raise AmountBelowMinimum(minimum_minor=limits.minimum_minor, currency=account_currency)
    if amount_minor > limits.maximum_minor:
        raise AmountAboveMaximum(maximum_minor=limits.maximum_minor, currency=account_currency)


def check_daily(limits: TopUpLimits, already_minor: int, amount_minor: int, currency: str) -> None:
    """`already_minor`: the last 24 hours' top-ups (paid or still pending)."""
    if already_minor + amount_minor > limits.daily_maximum_minor:
        raise DailyTopUpLimitReached(daily_maximum_minor=limits.daily_maximum_minor,
                                     remaining_minor=max(limits.daily_maximum_minor - already_minor, 0),
                                     currency=currency)
