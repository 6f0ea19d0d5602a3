"""The EPC QR code (EPC069-12 version 002, the "GiroCode") of an open EUR
invoice: banking apps in the SEPA area scan it into a credit transfer with
the seller's account, the amount and the ISO 11649 creditor reference filled
in, so the bank import (camt.054) matches the payment without a person.
Built by segno's helper (encoding UTF-8, error correction M, version ≤ 13)."""
from __future__ import annotations

from decimal import Decimal

import segno
from segno import helpers

from ..config import Settings
from . import qrmatrix

MAX_NAME = 70  # the standard's limit for the beneficiary's name


def epc_qr(settings: Settings, *, amount_minor: int, reference: str | None, text: str) -> segno.QRCode | None:
    """The code for paying `amount_minor` euro cents; None when there is
    nothing to pay or no EUR account. `reference` (RF…) is preferred;
    without one, `text` is the unstructured remittance information."""
    iban = settings.seller_iban_eur.replace(" ", "").upper()
    if amount_minor <= 0 or not iban:
        return None
    return helpers.make_epc_qr(name=settings.seller_name[:MAX_NAME], iban=iban,
                               amount=Decimal(amount_minor) / 100, reference=reference or None,
                               text=None if reference else text[:140], bic=settings.seller_bic_eur or None,
                               encoding="UTF-8")


def image(qr: segno.QRCode, box: int = 8):
    """A 1-bit PIL image, `box` pixels a module, with the standard's quiet zone (4 modules)."""
    rows = ["".join("1" if dark else "0" for dark in row) for row in qr.matrix_iter(scale=1, border=4)]
    return qrmatrix.one_bit_image(rows, box)
