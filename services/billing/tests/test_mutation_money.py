"""BIL-06, money, totals and VAT rules the broader tests left open, found by
mutation testing (X-03): pure functions, run once per mutant."""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from billing import money
from billing.invoices import totals, vat
from billing.invoices.errors import InvalidInvoice


@pytest.mark.parametrize("minor, major", [(12345, "123.45"), (5, "0.05"), (0, "0.00"), (-250, "-2.50"),
                                          (100, "1.00")])
def test_bil_06_minor_units_shown_as_major_with_two_decimals(minor, major):
    shown = money.to_decimal(minor)
    assert shown == Decimal(major) and str(shown) == major


def test_bil_06_amounts_formatted_in_the_readers_locale():
    assert money.format_amount(123450, "CHF", "de_CH") == "CHF\xa01’234.50"
    assert money.format_amount(123450, "EUR", "fr") == "1\u202f234,50\xa0€"
    assert money.format_amount(5, "EUR") == "€0.05"


@pytest.mark.parametrize("value, rounded", [("2.5", 3), ("-2.5", -3), ("2.49", 2), ("1.458", 1), ("0.5", 1),
                                            ("149.85", 150), ("7", 7)])
def test_bil_06_the_one_rounding_rule_is_half_away_from_zero(value, rounded):
    assert money.round_minor(Decimal(value)) == rounded


def test_bil_06_share_of_an_amount():
    assert money.share(1850, Decimal("0.081")) == 150  # 149.85
    assert money.share(10810, Decimal("0")) == 0
    assert money.share(-50, Decimal("0.19")) == -10  # -9.5: away from zero


@pytest.mark.parametrize("quantity, price, discount, field", [
    (0, 100, 0, "quantity"), (1_000_001, 1, 0, "quantity"), (1, -1, 0, "unit_price_minor"),
    (1, 100_000_000_01, 0, "unit_price_minor"), (1, 100, 101, "discount_minor"), (1, 100, -1, "discount_minor")])
def test_bil_06_a_refused_line_names_its_field(quantity, price, discount, field):
    with pytest.raises(InvalidInvoice) as error:
        totals.line_net(quantity, price, discount)
    assert error.value.details == {"field": field}


def test_bil_06_leftover_units_of_a_refund_go_to_the_largest_remainders():
    """1 over grosses 1 and 2: exact shares 1/3 and 2/3, both 0 whole; the
    centime goes to the larger remainder (2/3), not to the first group."""
    groups = (totals.VatGroup(Decimal("0"), 1, 0), totals.VatGroup(Decimal("0.026"), 2, 0))
    assert totals.split_refund(1, groups) == (totals.VatGroup(Decimal("0.026"), 1, 0),)
    # 2 over grosses 3, 3, 4 (exact 0.6, 0.6, 0.8): the 4 first, then the first of the equal ones
    groups = tuple(totals.VatGroup(Decimal(r), n, 0) for r, n in (("0", 3), ("0.026", 3), ("0.081", 4)))
    assert [(g.rate, g.net_minor) for g in totals.split_refund(2, groups)] == [
        (Decimal("0"), 1), (Decimal("0.081"), 1)]


def _half_away(numerator: int, denominator: int) -> int:
    """numerator / denominator (both ≥ 0) rounded half away from zero, exactly."""
    exact = Fraction(numerator, denominator)
    return math.floor(exact + Fraction(1, 2))


def test_bil_06_an_exact_half_of_a_refunds_vat_rounds_up():
    """1 of a gross 28 with VAT 14 is exactly 0.5 of VAT: 1, not 0 (the ratio
    1/28 taken first was cut to 28 digits, 0.4999…, and rounded down)."""
    assert totals.refund_vat(1, 28, 14) == 1
    assert totals.refund_vat(1, 2800, 1400) == 1
    assert totals.refund_vat(3, 28, 14) == 2  # 1.5
    assert totals.refund_vat(17, 26, 13) == 9  # 8.5


@given(st.integers(1, 10**9), st.data())
def test_bil_06_refund_vat_is_the_exact_share_rounded_half_away(total, data):
    vat = data.draw(st.integers(0, total))
    amount = data.draw(st.integers(1, total))
    assert totals.refund_vat(amount, total, vat) == _half_away(vat * amount, total)


def test_bil_06_eu_vat_number_check_answers_true_or_false():
    assert vat.valid_eu_vat_number("", "DE") is False
    assert vat.valid_eu_vat_number(None, "DE") is False
    assert vat.valid_eu_vat_number("DE136695977", "DE") is False
    assert vat.valid_eu_vat_number("DE136695976", "DE") is True
