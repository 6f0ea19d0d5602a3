"""BIL-06 document helpers (pure): CSV safety, labels in five languages,
locales, reference formatting, the gap-free counter as a property."""
from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from billing.invoices import csv_export, labels, numbering, qrbill
from billing.invoices.models import NumberCounter
from billing.invoices.pdf import latin1


@dataclass
class FakeInvoice:
    number: str = "2026-000001"
    kind: str = "invoice"
    status: str = "paid"
    issued_at: datetime = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    due_on: date | None = date(2026, 4, 1)
    paid_at: datetime | None = datetime(2026, 3, 5, 9, tzinfo=timezone.utc)
    currency: str = "CHF"
    net_minor: int = 10000
    vat_minor: int = 810
    total_minor: int = 10810
    refunded_minor: int = 0
    payment_reference: str | None = "=HYPERLINK(1)"
    vat_treatment: str = "domestic"


def test_bil_06_csv_rows_and_formula_injection():
    text = csv_export.text([FakeInvoice(), FakeInvoice(number="2026-000002", paid_at=None, status="open",
                                                       payment_reference=None, refunded_minor=-5)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(csv_export.HEADER)
    assert rows[1] == ["2026-000001", "invoice", "paid", "2026-03-02", "2026-04-01", "2026-03-05", "CHF", "100.00",
                       "8.10", "108.10", "0.00", "'=HYPERLINK(1)", "domestic"]
    assert rows[2][5] == "" and rows[2][10] == "-0.05" and rows[2][11] == ""
    assert text.endswith("\r\n") and text.count("\r\n") == 3
    for dangerous in ("+1+2", "-cmd", "@SUM(A1)", "=1"):
        assert csv_export._safe(dangerous) == "'" + dangerous
    assert csv_export._safe("-12.50") == "-12.50" and csv_export._safe("plain") == "plain"


@pytest.mark.parametrize("language, invoice, no_value", [
    ("en", "Invoice", "NO LEGAL VALUE"), ("de", "Rechnung", "OHNE RECHTSWIRKUNG"),
    ("fr", "Facture", "SANS VALEUR LÉGALE"), ("it", "Fattura", "SENZA VALORE LEGALE"),
    ("es", "Factura", "SIN VALOR LEGAL"), ("xx", "Invoice", "NO LEGAL VALUE")])
def test_bil_06_labels_in_five_languages(language, invoice, no_value):
    words = labels.labels(language)
    assert words["invoice"] == invoice and no_value in words["no_legal_value"]
    assert set(words) == set(labels._KEYS)


def test_bil_06_locales():
    assert labels.locale_of("de", "CH") == "de_CH"
    assert labels.locale_of("it", "CH") == "it_CH"
    assert labels.locale_of("fr", "US") == "fr_US" or labels.locale_of("fr", "US") == "fr"
    assert labels.locale_of("de", "") == "de"
    assert labels.locale_of("xx", "ZZ") == "en"


def test_bil_06_latin1_keeps_what_core_fonts_can_draw():
    assert latin1("CHF 1\u2019234.50") == "CHF 1'234.50"
    assert latin1("1\u202f234,50\u00a0€") == "1 234,50\u00a0?"
    assert latin1("Zürich – Genève") == "Zürich ? Genève"


def test_bil_03_reference_formatting():
    assert qrbill.formatted_reference("100000000000000020260000019") == "10 00000 00000 00002 02600 00019"
    assert qrbill.formatted_reference("RF94INV2026000001") == "RF94 INV2 0260 0000 1"
    assert qrbill.amount_text(123456) == "1 234.56" and qrbill.amount_text(None) == ""
    assert qrbill.debtor_of("A", "", "8000", "Zürich", "CH")["pcode"] == "8000"
    assert qrbill.debtor_of("A", "S 1", "", "Zürich", "CH") is None


@pytest.fixture(scope="module")
def counter_db(tmp_path_factory):
    """billing's schema on SQLite, migrated once for the property below."""
    from billing.main import MIGRATIONS
    from manager_shared.db import Database, migrate

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('counter')}/billing.db"

    async def build():
        database = Database(url)
        await migrate(database, MIGRATIONS)
        await database.dispose()
    asyncio.run(build())
    return url


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.booleans(), min_size=1, max_size=12))
def test_bil_06_counter_is_gap_free_whatever_rolls_back(counter_db, plan):
    """Any mix of committed and rolled-back finalisations: the committed
    numbers are exactly 1..k in order, none twice."""
    from manager_shared.db import Database

    series = f"T-{uuid.uuid4().hex[:8]}"

    async def run() -> list[int]:
        database = Database(counter_db)
        committed = []
        try:
            for commit in plan:
                try:
                    async with database.transaction() as session:
                        value = await numbering.take(session, NumberCounter.__table__, series)
                        if not commit:
                            raise LookupError("roll back")
                    committed.append(value)
                except LookupError:
                    pass
        finally:
            await database.dispose()
        return committed

    assert asyncio.run(run()) == list(range(1, plan.count(True) + 1))


def _document():
    from billing.invoices.pdf import DocLine, Document, Party

    return Document(kind="invoice", number="2026-000007", issued_on=date(2026, 3, 2), currency="CHF", language="de",
                    buyer=Party("Müller & Söhne GmbH", "Gasse 1", "3000", "Bern", "CH"), due_on=date(2026, 4, 1),
                    lines=[DocLine("Hosting “Pro”", "", 1, 123456, 0, 123456, Decimal("0.081"))],
                    payment_reference="100000000000000020260000019")


DEJAVU = "/usr/share/fonts/truetype/dejavu"


def test_bil_06_pdf_embeds_its_font_when_available_else_uses_core_helvetica():
    from pypdf import PdfReader

    from billing.config import Settings
    from billing.invoices.pdf import render

    embedded = render(_document(), Settings(invoice_font_dir=DEJAVU), payment_part=True)
    core = render(_document(), Settings(invoice_font_dir=""), payment_part=True)
    assert b"/FontFile2" in embedded and b"/FontFile2" not in core
    text = PdfReader(io.BytesIO(embedded)).pages[0].extract_text()
    assert "Hosting “Pro”" in text and "1’334.56" in text and "Zahlteil" in text and "Währung" in text
    core_text = PdfReader(io.BytesIO(core)).pages[0].extract_text()
    assert "Hosting ?Pro?" in core_text and "1'334.56" in core_text
