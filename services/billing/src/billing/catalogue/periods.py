"""Billing periods and terms (BIL-05), as pure rules.

A subscription has a paid term [term_start, term_end). A period change is
never applied to the term already paid: it is kept as `next_period` and the
next renewal invoice covers [term_end, term_end + next_period). The change
takes effect when that invoice is paid (the term is then extended at the new
period). So going from yearly to monthly in the middle of a paid year bills
nothing of that year again and needs no refund; going from monthly to yearly
bills the year from the end of the paid month.

Months are added calendar-wise from the subscription's anchor day (the day
of month its first term started), clamped to the month's last day: a monthly
term from 31 January ends on 28/29 February, the next one on 31 March, not
on the 28th (the anchor keeps the terms from drifting to the shortest month).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace

from .errors import PeriodNotAvailable, UnknownPeriod

MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "yearly": 12}
PERIODS: tuple[str, ...] = tuple(MONTHS)


def months_of(period: str) -> int:
    try:
        return MONTHS[period]
    except KeyError:
        raise UnknownPeriod(period=period) from None


def add_months(day: dt.date, months: int, anchor_day: int | None = None) -> dt.date:
    """`day` moved by whole calendar months; the day of month is `anchor_day`
    (default: `day`'s own) clamped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(anchor_day or day.day, last))


def period_between(start: dt.date, end: dt.date, anchor_day: int | None = None) -> str | None:
    """The period a term [start, end) spans from `anchor_day` (default:
    `start`'s day), or None if it is none of them (an invoice line tells its
    term, not its period)."""
    for period, months in MONTHS.items():
        if add_months(start, months, anchor_day) == end:
            return period
    return None


def check_quantity(period: str, quantity: int, min_quantity: int) -> None:
    """BIL-05 "some only above a quantity": refused below the period's minimum."""
    if quantity < min_quantity:
        raise PeriodNotAvailable(period=period, min_quantity=min_quantity, quantity=quantity)


@dataclass(frozen=True)
class Terms:
    """What the rules need of a subscription."""

    period: str
    term_start: dt.date
    term_end: dt.date
    next_period: str | None = None
    anchor_day: int | None = None  # None: the day of term_end (subscriptions opened before the anchor was kept)

    @property
    def renewal_period(self) -> str:
        """The period the next renewal invoice is issued at."""
        return self.next_period or self.period

    def next_term(self) -> tuple[dt.date, dt.date]:
        """The term the next renewal invoice covers: from the end of the paid one."""
        return self.term_end, add_months(self.term_end, months_of(self.renewal_period), self.anchor_day)


@dataclass(frozen=True)
class PeriodChange:
    terms: Terms
    effective_from: dt.date
    direction: str  # shorter | longer | same


def change_period(terms: Terms, new_period: str, *, quantity: int, min_quantity: int) -> PeriodChange:
    """BIL-05: the change waits for the end of the paid term (whatever its
    direction: the paid term is never billed twice nor refunded) and takes
    effect with the payment of the invoice at the new period. Choosing the
    current period again cancels a waiting change."""
    new_months, old_months = months_of(new_period), months_of(terms.period)
    check_quantity(new_period, quantity, min_quantity)
    direction = "shorter" if new_months < old_months else "longer" if new_months > old_months else "same"
    waiting = None if new_period == terms.period else new_period
    return PeriodChange(replace(terms, next_period=waiting), terms.term_end, direction)


def apply_paid_term(terms: Terms, start: dt.date, end: dt.date) -> Terms | None:
    """The terms once an invoice line covering [start, end) was paid: the term
    is extended (and a waiting change at that period applied) when the line
    continues the paid term; None when it does not (already applied, e.g. a
    re-delivered payment, or a line of another term), so nothing changes twice."""
    if start != terms.term_end or end <= start:
        return None
    period = period_between(start, end, terms.anchor_day)
    if period is None:
        return None
    waiting = None if terms.next_period == period else terms.next_period
    return Terms(period=period, term_start=start, term_end=end, next_period=waiting, anchor_day=terms.anchor_day)


def renewal_due(terms: Terms, today: dt.date, days_before: int) -> bool:
    """The renewal invoice is issued `days_before` days before the term ends
    (or at once if that day has passed)."""
    return today >= terms.term_end - dt.timedelta(days=days_before)
