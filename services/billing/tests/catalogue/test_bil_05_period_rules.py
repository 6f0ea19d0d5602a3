"""BIL-05: billing period changes as pure rules (no database)."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.catalogue.errors import PeriodNotAvailable, UnknownPeriod
from billing.catalogue.periods import (PERIODS, Terms, add_months, apply_paid_term, change_period, period_between,
                                       renewal_due)

D = dt.date


def test_bil_05_seed_case_yearly_paid_then_monthly_bills_nothing_of_2023_again():
    """Yearly paid on 1 January 2023, switched to monthly before 1 December
    2023: the next invoice is monthly from 1 January 2024."""
    paid = Terms(period="yearly", term_start=D(2023, 1, 1), term_end=D(2024, 1, 1))
    change = change_period(paid, "monthly", quantity=1, min_quantity=1)
    assert change.direction == "shorter" and change.effective_from == D(2024, 1, 1)
    assert change.terms.period == "yearly"  # the paid year stays as it is
    assert change.terms.next_term() == (D(2024, 1, 1), D(2024, 2, 1))
    renewed = apply_paid_term(change.terms, D(2024, 1, 1), D(2024, 2, 1))
    assert renewed == Terms(period="monthly", term_start=D(2024, 1, 1), term_end=D(2024, 2, 1))
    assert renewed.next_term() == (D(2024, 2, 1), D(2024, 3, 1))


def test_bil_05_change_to_a_longer_period_bills_from_the_end_of_the_paid_month():
    paid = Terms(period="monthly", term_start=D(2023, 3, 1), term_end=D(2023, 4, 1))
    change = change_period(paid, "yearly", quantity=1, min_quantity=1)
    assert change.direction == "longer"
    assert change.terms.next_term() == (D(2023, 4, 1), D(2024, 4, 1))
    assert apply_paid_term(change.terms, D(2023, 4, 1), D(2024, 4, 1)).period == "yearly"


def test_bil_05_change_takes_effect_only_with_the_invoice_at_the_new_period():
    """An invoice issued at the old period before the change still extends at
    the old period; the change keeps waiting for an invoice at the new one."""
    waiting = change_period(Terms("yearly", D(2023, 1, 1), D(2024, 1, 1)), "quarterly", quantity=1,
                            min_quantity=1).terms
    old = apply_paid_term(waiting, D(2024, 1, 1), D(2025, 1, 1))
    assert (old.period, old.next_period) == ("yearly", "quarterly")
    assert old.next_term() == (D(2025, 1, 1), D(2025, 4, 1))


def test_bil_05_choosing_the_current_period_again_cancels_a_waiting_change():
    waiting = Terms("yearly", D(2023, 1, 1), D(2024, 1, 1), next_period="monthly")
    assert change_period(waiting, "yearly", quantity=1, min_quantity=1).terms.next_period is None


def test_bil_05_period_refused_under_its_minimum_quantity():
    with pytest.raises(PeriodNotAvailable) as refused:
        change_period(Terms("yearly", D(2023, 1, 1), D(2024, 1, 1)), "monthly", quantity=4, min_quantity=5)
    assert (refused.value.status, refused.value.code) == (422, "period_not_available")
    assert change_period(Terms("yearly", D(2023, 1, 1), D(2024, 1, 1)), "monthly", quantity=5,
                         min_quantity=5).terms.next_period == "monthly"


def test_bil_05_unknown_period_refused():
    with pytest.raises(UnknownPeriod):
        change_period(Terms("yearly", D(2023, 1, 1), D(2024, 1, 1)), "weekly", quantity=1, min_quantity=1)


def test_bil_05_a_payment_applied_twice_extends_once():
    terms = Terms("monthly", D(2023, 1, 1), D(2023, 2, 1))
    once = apply_paid_term(terms, D(2023, 2, 1), D(2023, 3, 1))
    assert once.term_end == D(2023, 3, 1)
    assert apply_paid_term(once, D(2023, 2, 1), D(2023, 3, 1)) is None


def test_bil_05_a_line_of_no_known_period_or_another_term_changes_nothing():
    terms = Terms("monthly", D(2023, 1, 1), D(2023, 2, 1))
    assert apply_paid_term(terms, D(2023, 2, 1), D(2023, 2, 15)) is None
    assert apply_paid_term(terms, D(2023, 3, 1), D(2023, 4, 1)) is None


def test_bil_05_months_are_added_calendar_wise_clamped_to_the_month_end():
    assert add_months(D(2023, 1, 31), 1) == D(2023, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2023, 11, 15), 3) == D(2024, 2, 15)
    assert add_months(D(2023, 12, 1), 12) == D(2024, 12, 1)
    assert period_between(D(2023, 12, 1), D(2024, 3, 1)) == "quarterly"
    assert period_between(D(2023, 12, 1), D(2024, 3, 2)) is None



def test_bil_05_monthly_terms_from_the_31st_do_not_drift_to_the_28th():
    """The anchor day (the first term's start) keeps each term on it, clamped
    to short months: 31 Jan, 28 Feb, 31 Mar, 30 Apr, 31 May…"""
    terms, ends = Terms("monthly", D(2023, 1, 31), D(2023, 2, 28), anchor_day=31), []
    for _ in range(5):
        start, end = terms.next_term()
        terms = apply_paid_term(terms, start, end)
        ends.append(terms.term_end)
    assert ends == [D(2023, 3, 31), D(2023, 4, 30), D(2023, 5, 31), D(2023, 6, 30), D(2023, 7, 31)]
    assert period_between(D(2023, 2, 28), D(2023, 3, 31), 31) == "monthly"
    # without an anchor (rows from before it was kept) the term's own end day goes on
    assert Terms("monthly", D(2023, 1, 31), D(2023, 2, 28)).next_term() == (D(2023, 2, 28), D(2023, 3, 28))


@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2000, 1, 1), D(2090, 12, 31)), period=st.sampled_from(PERIODS),
       renewals=st.integers(1, 30))
def test_bil_05_after_n_renewals_the_term_ends_n_periods_from_the_start(start, period, renewals):
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[period]
    terms = Terms(period, start, add_months(start, months), anchor_day=start.day)
    for _ in range(renewals):
        terms = apply_paid_term(terms, *terms.next_term())
    assert terms.term_end == add_months(start, months * (renewals + 1), start.day)

def test_bil_04_renewal_invoice_due_days_before_the_term_end():
    terms = Terms("yearly", D(2023, 1, 1), D(2024, 1, 1))
    assert not renewal_due(terms, D(2023, 12, 17), 14)
    assert renewal_due(terms, D(2023, 12, 18), 14)
    assert renewal_due(terms, D(2024, 3, 1), 14)  # late: at once


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 1, 1)), first=st.sampled_from(PERIODS),
       steps=st.lists(st.tuples(st.sampled_from(["change", "pay", "pay_again"]), st.sampled_from(PERIODS)),
                      max_size=25))
def test_bil_05_property_paid_terms_never_overlap_nor_leave_gaps(start, first, steps):
    """Whatever the sequence of period changes and (re-delivered) payments,
    the paid terms follow each other exactly: nothing billed twice, nothing
    skipped, and the period only changes with a payment at that period."""
    terms = Terms(first, start, add_months(start, {"monthly": 1, "quarterly": 3, "yearly": 12}[first]))
    covered = [(terms.term_start, terms.term_end)]
    for action, period in steps:
        if action == "change":
            before = terms.period
            terms = change_period(terms, period, quantity=1, min_quantity=1).terms
            assert terms.period == before
        else:
            s, e = terms.next_term() if action == "pay" else covered[-1]
            expected_period = terms.renewal_period
            after = apply_paid_term(terms, s, e)
            if action == "pay_again":
                assert after is None
                continue
            assert after.period == expected_period and after.next_period is None
            terms = after
            covered.append((s, e))
    for (_, end), (next_start, _) in zip(covered, covered[1:]):
        assert end == next_start
    assert all(s < e for s, e in covered)
