"""VAT as data and the rule choosing the rate of an invoice (BIL-06).

The seller is Swiss (settings.seller_country, CH by default) and registered
for VAT in the EU countries it bills (one-stop shop for consumers):
- buyer in the seller's VAT area (CH and LI share one) → the seller's rate;
- buyer in an EU country, a business with a valid VAT number of that country
  (python-stdnum's `stdnum.eu.vat`) → reverse charge, 0 % (the buyer accounts
  for the VAT);
- buyer in an EU country otherwise (consumers, businesses without a valid
  number) → that country's rate;
- buyer elsewhere → export of a service, 0 %.
A buyer without a known country is billed as a domestic one.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .errors import VatRateUnknown

# Rates in force on 2026-01-01, by country and category.
RATES: dict[str, dict[str, Decimal]] = {
    "CH": {"standard": Decimal("0.081"), "reduced": Decimal("0.026")},
    "LI": {"standard": Decimal("0.081"), "reduced": Decimal("0.026")},
    "DE": {"standard": Decimal("0.19"), "reduced": Decimal("0.07")},
    "FR": {"standard": Decimal("0.20"), "reduced": Decimal("0.055")},
    "IT": {"standard": Decimal("0.22"), "reduced": Decimal("0.10")},
    "AT": {"standard": Decimal("0.20"), "reduced": Decimal("0.10")},
    "ES": {"standard": Decimal("0.21"), "reduced": Decimal("0.10")},
}
CATEGORIES = ("standard", "reduced")
EU = frozenset({"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
                "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"})
# Switzerland and Liechtenstein form one VAT area.
VAT_AREAS = (frozenset({"CH", "LI"}),)
ZERO = Decimal("0")

Kind = Literal["domestic", "eu_destination", "reverse_charge", "export"]


@dataclass(frozen=True)
class Treatment:
    """How an invoice is taxed: `country` is whose rates apply (None: 0 %)."""

    kind: Kind
    country: str | None

    def rate(self, category: str) -> Decimal:
        """The rate of a line of `category` under this treatment."""
        if category not in CATEGORIES:
            raise VatRateUnknown(category=category)
        if self.country is None:
            return ZERO
        rates = RATES.get(self.country)
        if rates is None or category not in rates:
            raise VatRateUnknown(country=self.country, category=category)
        return rates[category]


def same_area(a: str, b: str) -> bool:
    return a == b or any(a in area and b in area for area in VAT_AREAS)


def valid_eu_vat_number(number: str | None, country: str) -> bool:
    """A syntactically valid EU VAT number (check digits included) issued by
    `country` (Greece writes EL). Not a VIES lookup: that needs the network."""
    if not number:
        return False
    from stdnum.eu import vat

    compact = vat.compact(number)
    prefix = "EL" if country == "GR" else country
    return compact.startswith(prefix) and vat.is_valid(compact)


def normalized_vat_number(number: str | None, country: str) -> str | None:
    """The number as stored for a buyer in `country`: EU numbers compact
    (DE136695976), Swiss ones as printed (CHE-116.281.710 MWST); None when
    empty. Raises InvalidVatNumber when it is not valid for that country."""
    from stdnum.ch import uid as ch_uid, vat as ch_vat
    from stdnum.eu import vat as eu_vat

    from .errors import InvalidVatNumber

    number = (number or "").strip()
    if not number:
        return None
    if country in EU:
        if not valid_eu_vat_number(number, country):
            raise InvalidVatNumber()
        return eu_vat.compact(number)
    if country in ("CH", "LI"):
        if ch_vat.is_valid(number):
            return ch_vat.format(number)
        if ch_uid.is_valid(number):  # the UID without the MWST/TVA/IVA suffix
            return f"{ch_uid.format(number)} MWST"
        raise InvalidVatNumber()
    return number[:32]


def treatment(seller_country: str, buyer_country: str | None, vat_number: str | None,
              is_business: bool) -> Treatment:
    """The rule of the module docstring."""
    buyer = (buyer_country or seller_country).upper()
    if same_area(buyer, seller_country):
        return Treatment("domestic", seller_country)
    if buyer in EU:
        if is_business and valid_eu_vat_number(vat_number, buyer):
            return Treatment("reverse_charge", None)
        return Treatment("eu_destination", buyer)
    return Treatment("export", None)


# EN 16931 VAT category codes (UNTDID 5305) for the e-invoice.
def category_code(kind: Kind, rate: Decimal) -> str:
    if kind == "reverse_charge":
        return "AE"
    if kind == "export":
        return "G"
    return "S" if rate > ZERO else "Z"
