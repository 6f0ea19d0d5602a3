"""The Swiss QR-bill payment part of an open CHF invoice or top-up (BIL-03,
BIL-06), with the `qrbill` library: it validates IBAN, reference and
addresses and writes the QR payload; we draw it into our PDFs."""
from __future__ import annotations

import io
from decimal import Decimal

import qrbill as _qrbill

from ..config import Settings
from ..money import to_decimal
from . import qrmatrix

# qrbill knows these languages; Spanish readers get the English slip
_BILL_LANGUAGES = ("en", "de", "fr", "it")


def creditor(settings: Settings) -> dict:
    return {"name": settings.seller_name, "street": settings.seller_street, "pcode": settings.seller_postal_code,
            "city": settings.seller_city, "country": settings.seller_country}


def debtor_of(name: str, street: str, postal_code: str, city: str, country: str) -> dict | None:
    """The payer on the slip; None when the address is incomplete (the
    slip then leaves the box for the payer to fill in)."""
    if not (name and postal_code and city and country):
        return None
    return {"name": name[:70], "street": street[:70], "pcode": postal_code[:16], "city": city[:35],
            "country": country}


def bill(settings: Settings, *, reference: str, amount_minor: int | None, language: str,
         debtor: dict | None = None, message: str = "") -> _qrbill.QRBill:
    """A CHF QR-bill to the seller's QR-IBAN with a QR reference; no amount
    leaves it for the payer to fill in (top-ups)."""
    amount = None if amount_minor is None else str(to_decimal(amount_minor))
    return _qrbill.QRBill(account=settings.seller_qr_iban_chf, creditor=creditor(settings), currency="CHF",
                          amount=amount, reference_number=reference, debtor=debtor,
                          additional_information=message[:140],
                          language=language if language in _BILL_LANGUAGES else "en")


def qr_png(qr: _qrbill.QRBill) -> bytes:
    """The QR code (error correction M, as the standard asks) with the Swiss
    cross in its centre, as PNG."""
    out = io.BytesIO()
    qr_image(qr).save(out, format="PNG")
    return out.getvalue()


def qr_image(qr: _qrbill.QRBill, box: int = 10):
    """The same as a 1-bit PIL image, `box` pixels a module, with the Swiss cross."""
    from PIL import ImageDraw

    image = qrmatrix.one_bit_image(qrmatrix.modules(qr.qr_data()), box)
    side = image.size[0]
    cross = int(side * 7 / 46)  # 7 mm in a 46 mm code
    x0 = (side - cross) // 2
    draw = ImageDraw.Draw(image)
    draw.rectangle([x0, x0, x0 + cross, x0 + cross], fill="white")
    inner, bar = cross * 6 // 7, cross * 6 // 7 // 5
    i0 = x0 + (cross - inner) // 2
    draw.rectangle([i0, i0, i0 + inner, i0 + inner], fill="black")
    mid = x0 + cross // 2
    draw.rectangle([mid - bar // 2, i0 + bar, mid + bar // 2, i0 + inner - bar], fill="white")
    draw.rectangle([i0 + bar, mid - bar // 2, i0 + inner - bar, mid + bar // 2], fill="white")
    return image


def svg(qr: _qrbill.QRBill) -> str:
    """The complete payment part as SVG (for the transfer slip endpoint)."""
    out = io.StringIO()
    qr.as_svg(out)
    return out.getvalue()


def formatted_reference(reference: str) -> str:
    """27 digits as printed on the slip: 2 then groups of 5."""
    if reference.startswith("RF"):
        return " ".join(reference[i:i + 4] for i in range(0, len(reference), 4))
    return reference[:2] + " " + " ".join(reference[i:i + 5] for i in range(2, len(reference), 5))


def amount_text(amount_minor: int | None) -> str:
    if amount_minor is None:
        return ""
    return f"{to_decimal(amount_minor):,.2f}".replace(",", " ") if amount_minor >= 0 else str(Decimal(0))
