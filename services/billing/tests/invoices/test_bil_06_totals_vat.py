"""BIL-06: totals and VAT (pure rules): VAT rounded once per rate group,
half away from zero; rates as data; reverse charge for valid EU VAT numbers."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, strategies as st

from billing.invoices import totals, vat
from billing.invoices.errors import InvalidInvoice, VatRateUnknown

RATES = [Decimal("0.081"), Decimal("0.026"), Decimal("0.19"), Decimal("0.2"), Decimal("0.22"), Decimal("0")]
lines_strategy = st.lists(st.tuples(st.integers(0, 10_000_000), st.sampled_from(RATES)), min_size=1, max_size=30)


@given(lines_strategy)
def test_bil_06_totals_are_the_sum_of_lines_and_vat_is_rounded_per_rate_group(lines):
    result = totals.compute(lines)
    assert result.net_minor == sum(net for net, _ in lines)
    assert result.total_minor == result.net_minor + result.vat_minor
    assert result.vat_minor == sum(g.vat_minor for g in result.groups)
    for group in result.groups:
        exact = sum(Decimal(net) for net, rate in lines if rate == group.rate) * group.rate
        assert group.net_minor == sum(net for net, rate in lines if rate == group.rate)
        assert group.vat_minor == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert [g.rate for g in result.groups] == sorted({rate.normalize() for _, rate in lines})


def test_bil_06_vat_per_group_differs_from_per_line_rounding():
    """Three lines of 0.06 at 8.1 %: per line 3 × round(0.486) = 0 centimes;
    per group round(1.458) = 1 centime. The rule is per group."""
    result = totals.compute([(6, Decimal("0.081"))] * 3)
    assert (result.net_minor, result.vat_minor, result.total_minor) == (18, 1, 19)


def test_bil_06_half_rounds_away_from_zero():
    # 50 × 0.19 = 9.5 → 10 ; 150 × 0.081 = 12.15 → 12 ; 1850 × 0.081 = 149.85 → 150
    assert totals.compute([(50, Decimal("0.19"))]).vat_minor == 10
    assert totals.compute([(150, Decimal("0.081"))]).vat_minor == 12
    assert totals.compute([(1850, Decimal("0.081"))]).vat_minor == 150


@pytest.mark.parametrize("quantity, price, discount, net", [(1, 0, 0, 0), (3, 1000, 0, 3000), (3, 1000, 3000, 0),
                                                            (2, 999, 1, 1997), (1_000_000, 1, 0, 1_000_000),
                                                            (1, 100_000_000_00, 0, 100_000_000_00)])
def test_bil_06_line_net_is_quantity_times_price_minus_discount(quantity, price, discount, net):
    assert totals.line_net(quantity, price, discount) == net
    if discount == 0:
        assert totals.line_net(quantity, price) == net  # no discount unless given


@pytest.mark.parametrize("quantity, price, discount", [(0, 100, 0), (-1, 100, 0), (1_000_001, 1, 0), (1, -1, 0),
                                                       (1, 100, 101), (1, 100, -1), (1, 100_000_000_01, 0)])
def test_bil_06_impossible_lines_are_refused(quantity, price, discount):
    with pytest.raises(InvalidInvoice) as error:
        totals.line_net(quantity, price, discount)
    assert (error.value.status, error.value.code) == (422, "invalid_invoice_line")


def test_bil_06_refund_vat_is_the_proportional_share():
    assert totals.refund_vat(10810, 10810, 810) == 810
    assert totals.refund_vat(5405, 10810, 810) == 405
    assert totals.refund_vat(1, 10810, 810) == 0
    assert totals.refund_vat(100, 0, 0) == 0


@pytest.mark.parametrize("country, rate", [("CH", "0.081"), ("LI", "0.081"), ("DE", "0.19"), ("FR", "0.20"),
                                           ("IT", "0.22"), ("AT", "0.20"), ("ES", "0.21")])
def test_bil_06_standard_rates_are_data(country, rate):
    assert vat.RATES[country]["standard"] == Decimal(rate)


@pytest.mark.parametrize("country, rate", [("CH", "0.026"), ("LI", "0.026"), ("DE", "0.07"), ("FR", "0.055"),
                                           ("IT", "0.10"), ("AT", "0.10"), ("ES", "0.10")])
def test_bil_06_reduced_rates_are_data(country, rate):
    assert vat.RATES[country]["reduced"] == Decimal(rate)


@pytest.mark.parametrize("buyer, number, business, kind, rate", [
    ("CH", None, False, "domestic", "0.081"),
    ("CH", "CHE-116.281.710", True, "domestic", "0.081"),
    ("LI", None, True, "domestic", "0.081"),
    (None, None, False, "domestic", "0.081"),
    ("DE", "DE136695976", True, "reverse_charge", "0"),
    ("FR", "FR40303265045", True, "reverse_charge", "0"),
    ("AT", "ATU13585627", True, "reverse_charge", "0"),
    ("IT", "IT00743110157", True, "reverse_charge", "0"),
    ("DE", "DE136695976", False, "eu_destination", "0.19"),   # a private person's number does not count
    ("DE", "DE136695977", True, "eu_destination", "0.19"),    # wrong check digit
    ("DE", "FR40303265045", True, "eu_destination", "0.19"),  # another country's number
    ("DE", None, True, "eu_destination", "0.19"),
    ("FR", None, False, "eu_destination", "0.20"),
    ("IT", None, False, "eu_destination", "0.22"),
    ("AT", None, False, "eu_destination", "0.20"),
    ("US", None, True, "export", "0"),
    ("de", None, False, "eu_destination", "0.19"),  # country codes in any case
])
def test_bil_06_vat_treatment(buyer, number, business, kind, rate):
    treatment = vat.treatment("CH", buyer, number, business)
    assert treatment.kind == kind
    assert treatment.rate("standard") == Decimal(rate)


def test_bil_06_eu_seller_bills_its_own_country_domestically():
    assert vat.treatment("DE", "DE", "DE136695976", True) == vat.Treatment("domestic", "DE")
    assert vat.treatment("DE", "AT", "ATU13585627", True).kind == "reverse_charge"


def test_bil_06_unknown_rates_are_refused():
    with pytest.raises(VatRateUnknown):
        vat.Treatment("domestic", "CH").rate("luxury")
    with pytest.raises(VatRateUnknown):
        vat.treatment("CH", "PL", None, False).rate("standard")  # an EU country without rates in the table
    assert vat.Treatment("domestic", "CH").rate("reduced") == Decimal("0.026")


def test_bil_06_greek_numbers_use_el():
    assert vat.valid_eu_vat_number("EL094259216", "GR")
    assert not vat.valid_eu_vat_number("EL094259216", "DE")
    assert not vat.valid_eu_vat_number("", "DE")


@pytest.mark.parametrize("kind, rate, code", [("reverse_charge", "0", "AE"), ("export", "0", "G"),
                                              ("domestic", "0.081", "S"), ("domestic", "0", "Z")])
def test_bil_06_en16931_category_codes(kind, rate, code):
    assert vat.category_code(kind, Decimal(rate)) == code


@pytest.mark.parametrize("number, country, stored", [
    ("de 136 695 976", "DE", "DE136695976"), ("FR 40 303265045", "FR", "FR40303265045"),
    ("CHE-116.281.710 MWST", "CH", "CHE-116.281.710 MWST"), ("CHE116281710", "CH", "CHE-116.281.710 MWST"),
    ("CHE-116.281.710 TVA", "LI", "CHE-116.281.710 TVA"), ("  ", "DE", None), (None, "CH", None),
    ("EIN 12-3456789", "US", "EIN 12-3456789"), ("X" * 40, "US", "X" * 32)])
def test_bil_06_vat_numbers_are_stored_normalized(number, country, stored):
    assert vat.normalized_vat_number(number, country) == stored


@pytest.mark.parametrize("number, country", [("DE136695977", "DE"), ("FR40303265045", "DE"),
                                             ("CHE-116.281.711", "CH"), ("DE136695976", "CH")])
def test_bil_06_invalid_vat_numbers_are_refused(number, country):
    from billing.invoices.errors import InvalidVatNumber

    with pytest.raises(InvalidVatNumber) as error:
        vat.normalized_vat_number(number, country)
    assert (error.value.status, error.value.code) == (422, "invalid_vat_number")


groups_strategy = st.lists(st.tuples(st.integers(0, 1_000_000), st.sampled_from(RATES)), min_size=1, max_size=5,
                           unique_by=lambda x: x[1])


@given(groups_strategy, st.data())
def test_bil_06_refund_split_adds_up_and_takes_each_groups_vat_share(lines, data):
    groups = totals.compute(lines).groups
    whole = sum(g.net_minor + g.vat_minor for g in groups)
    if whole == 0:
        return
    amount = data.draw(st.integers(1, whole))
    parts = totals.split_refund(amount, groups)
    assert sum(p.net_minor + p.vat_minor for p in parts) == amount
    by_rate = {g.rate: g for g in groups}
    for part in parts:
        group = by_rate[part.rate]
        gross = group.net_minor + group.vat_minor
        assert 0 < part.net_minor + part.vat_minor <= gross
        exact = Decimal(amount) * gross / whole
        assert abs((part.net_minor + part.vat_minor) - exact) < 1  # proportional, off by the leftover unit at most
        assert part.vat_minor == totals.refund_vat(part.net_minor + part.vat_minor, gross, group.vat_minor)
    stated = totals.stated((p.net_minor, p.rate, p.vat_minor) for p in parts)
    assert (stated.total_minor, stated.vat_minor) == (amount, sum(p.vat_minor for p in parts))


def test_bil_06_refund_split_of_a_mixed_rate_invoice():
    groups = totals.compute([(10000, Decimal("0.081")), (9000, Decimal("0.026"))]).groups
    parts = totals.split_refund(10022, groups)
    assert [(p.rate, p.net_minor, p.vat_minor) for p in parts] == [
        (Decimal("0.026"), 4500, 117), (Decimal("0.081"), 5000, 405)]
    assert [p.net_minor + p.vat_minor for p in totals.split_refund(1, groups)] == [1]
    assert totals.split_refund(1, totals.compute([(1, Decimal("0"))]).groups) == (
        totals.VatGroup(Decimal("0"), 1, 0),)
    for amount in (0, 20045):
        with pytest.raises(ValueError):
            totals.split_refund(amount, groups)


def test_bil_06_stated_totals_only_when_every_line_states_vat():
    assert totals.stated([(1000, Decimal("0.081"), 7)]).vat_minor == 7
    assert totals.stated([(1000, Decimal("0.081"), 7), (1000, Decimal("0.081"), None)]).vat_minor == 162
    assert totals.stated([]).total_minor == 0
