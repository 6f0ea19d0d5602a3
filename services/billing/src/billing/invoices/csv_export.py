"""CSV of a selection of invoices (BIL-06): one row per invoice, amounts in
major units with a dot (what spreadsheets and accounting imports read)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from ..money import to_decimal

HEADER = ("number", "kind", "status", "issued_on", "due_on", "paid_on", "currency", "net", "vat", "total",
          "refunded", "payment_reference", "vat_treatment")


def _row(invoice) -> tuple:
    return (invoice.number, invoice.kind, invoice.status,
            invoice.issued_at.date().isoformat() if invoice.issued_at else "",
            invoice.due_on.isoformat() if invoice.due_on else "",
            invoice.paid_at.date().isoformat() if invoice.paid_at else "", invoice.currency,
            to_decimal(invoice.net_minor), to_decimal(invoice.vat_minor), to_decimal(invoice.total_minor),
            to_decimal(invoice.refunded_minor), invoice.payment_reference or "", invoice.vat_treatment)


def _line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [_safe(v) for v in values])
    return out.getvalue()


def _safe(value) -> str:
    """No spreadsheet formulas from data (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def rows(invoices: Iterable) -> Iterator[str]:
    """The CSV, header first, one string per row (for StreamingResponse)."""
    yield _line(HEADER)
    for invoice in invoices:
        yield _line(_row(invoice))


def text(invoices: Iterable) -> str:
    return "".join(rows(invoices))
