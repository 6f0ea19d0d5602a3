"""Structured payment references a bank transfer carries (BIL-03).

CHF: the Swiss QR reference (27 digits, the last a recursive modulo-10 check
digit, `stdnum.ch.esr`), usable with a QR-IBAN. EUR: the ISO 11649 creditor
reference (`RF` + 2 check digits + up to 21 characters, `stdnum.iso11649`).
The payload says what is paid: 1 = an invoice (its number's digits), 2 = a
prepaid top-up (the organization's top-up sequence).
"""
from __future__ import annotations

from stdnum import iso11649
from stdnum.ch import esr

INVOICE, TOP_UP = "1", "2"
_RF_PREFIX = {INVOICE: "INV", TOP_UP: "TOP"}


def normalize(reference: str) -> str:
    """As banks print them (groups of digits, spaces) → compact upper case."""
    return "".join(reference.split()).upper()


def qr_reference(purpose: str, value: int) -> str:
    payload = f"{purpose}{value:025d}"
    if len(payload) != 26:
        raise ValueError("value too large for a QR reference")
    return payload + esr.calc_check_digit(payload)


def creditor_reference(purpose: str, value: int) -> str:
    payload = f"{_RF_PREFIX[purpose]}{value}"
    # ISO 7064 mod 97-10 over payload + "RF00", letters as 10..35
    digits = "".join(str(int(c, 36)) for c in payload + "RF00")
    check = 98 - int(digits) % 97
    reference = f"RF{check:02d}{payload}"
    if len(reference) > 25:
        raise ValueError("value too large for a creditor reference")
    return reference


def reference_for(currency: str, purpose: str, value: int) -> str:
    return qr_reference(purpose, value) if currency == "CHF" else creditor_reference(purpose, value)


def invoice_value(number: str) -> int:
    """`2026-000042` → 2026000042: the invoice number, digits only."""
    return int(number.replace("-", ""))


def is_valid(reference: str) -> bool:
    reference = normalize(reference)
    return iso11649.is_valid(reference) if reference.startswith("RF") else esr.is_valid(reference)
