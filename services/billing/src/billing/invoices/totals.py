"""An invoice's amounts from its lines (BIL-06), in integer minor units.

Line net = quantity × unit price − discount (exact, integers).
VAT is rounded once per rate group, not per line: the nets of all lines at
one rate are summed, the rate applied, and the result rounded half away from
zero to the minor unit (billing.money.round_minor, the one rounding rule).
That is what EN 16931 asks (BT-117 VAT amount = BT-116 taxable amount × rate)
and what the invoice shows per rate, so shown amounts always add up:
net = Σ line nets, VAT = Σ group VATs, total = net + VAT.

Credit notes state their VAT per line instead (`stated`): a refund is a
gross amount spread over the invoice's rate groups (`split_refund`), and its
VAT is the refunded share of each group's VAT, not recomputed from the net.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from ..money import round_minor, share
from .errors import InvalidInvoice

MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE_MINOR = 100_000_000_00  # 100 million per unit: beyond that a typo, not a price


def line_net(quantity: int, unit_price_minor: int, discount_minor: int = 0) -> int:
    """quantity × unit price − discount; refuses what cannot be an invoice line."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInvoice("The quantity must be between 1 and 1000000.", field="quantity")
    if not 0 <= unit_price_minor <= MAX_UNIT_PRICE_MINOR:
        raise InvalidInvoice("The unit price must be zero or positive.", field="unit_price_minor")
    gross = quantity * unit_price_minor
    if not 0 <= discount_minor <= gross:
        raise InvalidInvoice("The discount must be between zero and the line amount.", field="discount_minor")
    return gross - discount_minor


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    net_minor: int
    vat_minor: int


@dataclass(frozen=True)
class Totals:
    net_minor: int
    vat_minor: int
    total_minor: int
    groups: tuple[VatGroup, ...]


def compute(lines: Iterable[tuple[int, Decimal]]) -> Totals:
    """Totals of (net_minor, rate) lines; groups ordered by rate."""
    nets: dict[Decimal, int] = {}
    for net, rate in lines:
        key = rate.normalize()
        nets[key] = nets.get(key, 0) + net
    groups = tuple(VatGroup(rate, net, share(net, rate)) for rate, net in sorted(nets.items()))
    net_total = sum(g.net_minor for g in groups)
    vat_total = sum(g.vat_minor for g in groups)
    return Totals(net_total, vat_total, net_total + vat_total, groups)


def stated(lines: Iterable[tuple[int, Decimal, int | None]]) -> Totals:
    """Totals of (net, rate, stated VAT) lines: the stated VATs summed per
    rate when every line states one (credit notes), else `compute`."""
    lines = list(lines)
    if not lines or any(vat is None for _, _, vat in lines):
        return compute((net, rate) for net, rate, _ in lines)
    groups: dict[Decimal, tuple[int, int]] = {}
    for net, rate, vat in lines:
        key = rate.normalize()
        old_net, old_vat = groups.get(key, (0, 0))
        groups[key] = (old_net + net, old_vat + vat)
    ordered = tuple(VatGroup(rate, net, vat) for rate, (net, vat) in sorted(groups.items()))
    net_total, vat_total = sum(g.net_minor for g in ordered), sum(g.vat_minor for g in ordered)
    return Totals(net_total, vat_total, net_total + vat_total, ordered)


def split_refund(amount_minor: int, groups: tuple[VatGroup, ...]) -> tuple[VatGroup, ...]:
    """A refund of `amount_minor` (gross) over the invoice's VAT groups, in
    proportion to their gross amounts; largest remainders get the leftover
    minor units, so the parts add up to the amount exactly. Each part's VAT
    is its share of its group's VAT (`refund_vat`). Parts of 0 are left out."""
    grosses = [g.net_minor + g.vat_minor for g in groups]
    whole = sum(grosses)
    if whole <= 0 or not 0 < amount_minor <= whole:
        raise ValueError("a refund is positive and at most the invoice's total")
    shares = [divmod(amount_minor * gross, whole) for gross in grosses]
    parts = [q for q, _ in shares]
    leftover = amount_minor - sum(parts)
    for i in sorted(range(len(groups)), key=lambda i: -shares[i][1])[:leftover]:
        parts[i] += 1
    result = []
    for group, gross, part in zip(groups, grosses, parts):
        if part:
            vat = refund_vat(part, gross, group.vat_minor)
            result.append(VatGroup(group.rate, part - vat, vat))
    return tuple(result)


def refund_vat(amount_minor: int, invoice_total_minor: int, invoice_vat_minor: int) -> int:
    """The VAT part of a refund of `amount_minor` (gross) of an invoice: its
    share of the invoice's VAT, by the one rounding rule."""
    if invoice_total_minor == 0:
        return 0
    # One division of exact integers: amount / total first (e.g. 1/28 × 14) is cut
    # to 28 digits and turns an exact half (0.5) into 0.4999…, rounded the wrong way.
    return round_minor(Decimal(invoice_vat_minor * amount_minor) / Decimal(invoice_total_minor))
