"""BIL-06 invoice PDFs: the fast paths (fonts parsed once and subset by
us, QR mask scored with bit arithmetic) give what the slow ones gave."""
from __future__ import annotations

import io
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import segno
from hypothesis import given, settings, strategies as st

DEJAVU = "/usr/share/fonts/truetype/dejavu"


@pytest.fixture
def dejavu() -> str:
    """The fonts invoices embed in production. Not skipped when missing: a
    missing font would hide the subsetter's proof (.ci/run installs them)."""
    assert Path(DEJAVU, "DejaVuSans.ttf").is_file(), "install Debian's fonts-dejavu-core (as .ci/run does)"
    return DEJAVU


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcXYZ019 äöüéàç-./\r\n€", min_size=1, max_size=700))
def test_bil_06_qr_modules_are_segnos_symbol_with_the_standards_mask(payload):
    from billing.invoices import qrmatrix

    expected = segno.make(payload, error="m", micro=False, boost_error=False, encoding="utf-8")
    assert qrmatrix.modules(payload) == ["".join(map(str, row)) for row in expected.matrix]


def _document(buyer: str = "Müller & Söhne GmbH", number: str = "2026-000007"):
    from billing.invoices.pdf import DocLine, Document, Party

    return Document(kind="invoice", number=number, issued_on=date(2026, 3, 2), currency="CHF", language="de",
                    buyer=Party(buyer, "Gasse 1", "3000", "Bern", "CH"), due_on=date(2026, 4, 1),
                    lines=[DocLine("Hosting “Pro” Ωμέγα Привет", "", 1, 123456, 0, 123456, Decimal("0.081"))],
                    payment_reference="100000000000000020260000019")


def _embedded_glyphs(content: bytes):
    """(font name, character, outline, advance) of each character the PDF's
    fonts map, read back from the embedded programs."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    for font in PdfReader(io.BytesIO(content)).pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        cid_font = font["/DescendantFonts"][0].get_object()
        descriptor = cid_font["/FontDescriptor"].get_object()
        program = TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()), checkChecksums=2)
        to_gid = cid_font["/CIDToGIDMap"].get_object().get_data()
        glyphs, order = program.getGlyphSet(), program.getGlyphOrder()
        cmap = font["/ToUnicode"].get_object().get_data().decode()
        for code, text in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4})>\n", cmap.split("endcodespacerange")[1]):
            if text == "0000":  # .notdef, as fpdf maps it too
                continue
            name = order[struct.unpack_from(">H", to_gid, 2 * int(code, 16))[0]]
            pen = DecomposingRecordingPen(glyphs)
            glyphs[name].draw(pen)
            yield descriptor["/FontName"], chr(int(text, 16)), pen.value, program["hmtx"][name][0]


def test_bil_06_embedded_font_subsets_draw_dejavus_glyphs(dejavu):
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.ttLib import TTFont

    from billing.config import Settings
    from billing.invoices.pdf import render

    content = render(_document("Ærø Ǆ ẞ € Łódź"), Settings(invoice_font_dir=DEJAVU), payment_part=True)
    fonts = {"DejaVuSansBook": TTFont(f"{DEJAVU}/DejaVuSans.ttf"),
             "DejaVuSansBold": TTFont(f"{DEJAVU}/DejaVuSans-Bold.ttf")}
    seen = set()
    for name, char, outline, advance in _embedded_glyphs(content):
        original = fonts[name.split("+")[1]]
        glyph = original.getBestCmap()[ord(char)]
        pen = DecomposingRecordingPen(original.getGlyphSet())
        original.getGlyphSet()[glyph].draw(pen)
        assert (outline, advance) == (pen.value, original["hmtx"][glyph][0]), (name, char)
        seen.add(char)
    assert {"ä", "Ω", "П", "Ł", "“", "€", "1"} <= seen  # composites (ä, Ł) and far glyphs included


def test_bil_06_pdfs_rendered_in_threads_are_the_ones_rendered_alone(dejavu):
    from billing.config import Settings
    from billing.invoices.pdf import render

    settings_ = Settings(invoice_font_dir=DEJAVU)
    docs = [_document(f"Kunde {chr(0x41 + k)}{'é' * k}", f"2026-{k:06d}") for k in range(12)]
    alone = [render(doc, settings_, payment_part=True) for doc in docs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda doc: render(doc, settings_, payment_part=True), docs * 3))
    strip = re.compile(rb"/CreationDate \([^)]*\)|/ID \[<[0-9A-F]+><[0-9A-F]+>\]")  # the clock and its hash
    assert [strip.sub(b"", x) for x in together] == [strip.sub(b"", x) for x in alone * 3]
