"""Invoice, credit note, pro forma and payment slip PDFs (BIL-06, BIL-07),
drawn with fpdf2 in the organization's language, with the seller (settings)
and the buyer (the invoice's snapshot)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from fpdf import FPDF

from ..config import Settings
from ..money import format_amount
from . import epc, qrbill as slip
from .pdf_fonts import Producer, add_shared_font
from .labels import labels, locale_of
from .totals import Totals, stated

# Core PDF fonts speak Latin-1; Babel writes some separators beyond it.
_REPLACE = str.maketrans({"\u2019": "'", "\u202f": " ", "\u2009": " ", "\u2011": "-", "\u2212": "-"})


def latin1(text: str) -> str:
    return text.translate(_REPLACE).encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Party:
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    vat_number: str | None = None

    def lines(self) -> list[str]:
        return [x for x in (self.name, self.street, f"{self.country}-{self.postal_code} {self.city}".strip("- "))
                if x]


@dataclass(frozen=True)
class DocLine:
    description: str
    period: str
    quantity: int
    unit_price_minor: int
    discount_minor: int
    net_minor: int
    vat_rate: Decimal
    vat_minor: int | None = None  # stated by credit notes


@dataclass
class Document:
    """What a PDF shows; built from an invoice or a pro forma selection."""

    kind: str  # invoice | credit_note | proforma
    number: str
    issued_on: date
    currency: str
    language: str
    buyer: Party
    lines: list[DocLine]
    due_on: date | None = None
    paid_on: date | None = None
    vat_treatment: str = "domestic"
    payment_reference: str | None = None
    notes: tuple[str, ...] = ()

    def totals(self) -> Totals:
        return stated((line.net_minor, line.vat_rate, line.vat_minor) for line in self.lines)


def seller_of(settings: Settings) -> Party:
    return Party(settings.seller_name, settings.seller_street, settings.seller_postal_code, settings.seller_city,
                 settings.seller_country, settings.seller_vat_number)


def period_text(start: date | None, end: date | None, locale: str) -> str:
    if start is None or end is None:
        return ""
    return f"{format_date(start, 'short', locale=locale)} - {format_date(end, 'short', locale=locale)}"


def document_of(invoice) -> Document:
    """The document of an invoice or credit note row."""
    locale = locale_of(invoice.language, invoice.buyer_country)
    lines = [DocLine(line.description, period_text(line.period_start, line.period_end, locale), line.quantity,
                     line.unit_price_minor, line.discount_minor, line.net_minor, Decimal(line.vat_rate),
                     line.vat_minor) for line in invoice.lines]
    paid = invoice.paid_at.date() if isinstance(invoice.paid_at, datetime) else None
    return Document(
        kind=invoice.kind, number=invoice.number, issued_on=invoice.issued_at.date(), currency=invoice.currency,
        language=invoice.language, lines=lines, due_on=invoice.due_on, paid_on=paid,
        buyer=Party(invoice.buyer_name, invoice.buyer_street, invoice.buyer_postal_code, invoice.buyer_city,
                    invoice.buyer_country, invoice.buyer_vat_number),
        vat_treatment=invoice.vat_treatment, payment_reference=invoice.payment_reference)


class _Pdf(FPDF):
    """A4 with the footer line; embeds DejaVu Sans from `font_dir` when it is
    there (PDF/A wants embedded fonts, and it draws any character), else the
    core Helvetica with text reduced to Latin-1."""

    def __init__(self, title: str, footer: str, font_dir: str = "") -> None:
        super().__init__(format="A4")
        self._footer_text = footer
        self.family, self.unicode, self.footer_off = "Helvetica", False, False
        regular, bold = Path(font_dir) / "DejaVuSans.ttf", Path(font_dir) / "DejaVuSans-Bold.ttf"
        if font_dir and regular.is_file() and bold.is_file():
            add_shared_font(self, "Body", "", str(regular))  # parsed once per process, not per document
            add_shared_font(self, "Body", "B", str(bold))
            self.family, self.unicode = "Body", True
        self.set_title(latin1(title))
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 15, 18)

    def txt(self, text: str) -> str:
        return text if self.unicode else latin1(text)

    def output(self, *args, **kwargs):
        # the shared fonts must be written by our producer: fpdf's would subset them with fontTools
        return super().output(*args, output_producer_class=Producer, **kwargs)

    def footer(self) -> None:
        if self.footer_off:
            return
        self.set_y(-14)
        self.set_font(self.family, size=7)
        self.cell(0, 4, self.txt(self._footer_text), align="C")


def render(doc: Document, settings: Settings, *, payment_part: bool = False) -> bytes:
    """The document as PDF bytes; `payment_part` adds the QR-bill (CHF) or
    the transfer details with the creditor reference (EUR)."""
    words, locale = labels(doc.language), locale_of(doc.language, doc.buyer.country)
    seller = seller_of(settings)
    footer = f"{seller.name} - {seller.street} - {seller.postal_code} {seller.city} - {seller.vat_number}"
    pdf = _Pdf(f"{words[doc.kind]} {doc.number}", footer, settings.invoice_font_dir)
    pdf.add_page()
    _header(pdf, doc, seller, words, locale)
    _table(pdf, doc, words, locale)
    _totals(pdf, doc, words, locale)
    _notes(pdf, doc, words, locale)
    if payment_part:
        _payment_part(pdf, doc, settings, words, locale)
    return bytes(pdf.output())


def _money(amount: int, doc: Document, locale: str) -> str:
    return format_amount(amount, doc.currency, locale)


def _header(pdf: _Pdf, doc: Document, seller: Party, words: dict, locale: str) -> None:
    pdf.set_font(pdf.family, "B", 11)
    for i, text in enumerate(seller.lines()):
        pdf.set_font(pdf.family, "B" if i == 0 else "", 11 if i == 0 else 9)
        pdf.cell(0, 5, pdf.txt(text), new_x="LMARGIN", new_y="NEXT")
    if seller.vat_number:
        pdf.cell(0, 5, pdf.txt(f"{words['vat_number']}: {seller.vat_number}"), new_x="LMARGIN", new_y="NEXT")
    if doc.kind == "proforma":
        pdf.ln(3)
        pdf.set_font(pdf.family, "B", 12)
        pdf.set_text_color(200, 0, 0)
        pdf.multi_cell(0, 6, pdf.txt(words["no_legal_value"]), border=1, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    top = pdf.get_y()
    pdf.set_font(pdf.family, "B", 9)
    pdf.cell(80, 5, pdf.txt(words["buyer"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)
    for text in doc.buyer.lines():
        pdf.cell(80, 5, pdf.txt(text), new_x="LMARGIN", new_y="NEXT")
    if doc.buyer.vat_number:
        pdf.cell(80, 5, pdf.txt(f"{words['vat_number']}: {doc.buyer.vat_number}"), new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(110, top)
    pdf.set_font(pdf.family, "B", 16)
    pdf.cell(0, 8, pdf.txt(words[doc.kind]), new_x="LEFT", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)
    facts = [(words["number"], doc.number), (words["date"], format_date(doc.issued_on, "long", locale=locale))]
    if doc.due_on and doc.kind == "invoice" and doc.paid_on is None:
        facts.append((words["due"], format_date(doc.due_on, "long", locale=locale)))
    if doc.paid_on:
        facts.append((words["paid_on"], format_date(doc.paid_on, "long", locale=locale)))
    if doc.payment_reference and doc.paid_on is None:
        facts.append((words["reference"], slip.formatted_reference(doc.payment_reference)))
    for label, value in facts:
        pdf.set_x(110)
        pdf.cell(30, 5, pdf.txt(label))
        pdf.cell(0, 5, pdf.txt(value), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, max(bottom, pdf.get_y()) + 8)


_WIDTHS = (72, 34, 12, 24, 0)


def _table(pdf: _Pdf, doc: Document, words: dict, locale: str) -> None:
    pdf.set_font(pdf.family, "B", 8)
    heads = (words["description"], words["period"], words["quantity"], words["unit_price"], words["amount"])
    for width, head, align in zip(_WIDTHS, heads, "LLRRR"):
        pdf.cell(width, 6, pdf.txt(head), border="B", align=align)
    pdf.ln()
    pdf.set_font(pdf.family, "", 8)
    for line in doc.lines:
        description = line.description
        if line.discount_minor:
            description += f" ({words['discount']} -{_money(line.discount_minor, doc, locale)})"
        cells = (description[:60], line.period, str(line.quantity), _money(line.unit_price_minor, doc, locale),
                 _money(line.net_minor, doc, locale))
        for width, text, align in zip(_WIDTHS, cells, "LLRRR"):
            pdf.cell(width, 5, pdf.txt(text), align=align)
        pdf.ln()


def _totals(pdf: _Pdf, doc: Document, words: dict, locale: str) -> None:
    sums = doc.totals()
    pdf.ln(2)
    rows = [(words["net"], sums.net_minor)]
    rows += [(f"{words['vat']} {g.rate * 100:.1f}% ({_money(g.net_minor, doc, locale)})", g.vat_minor)
             for g in sums.groups]
    for label, amount in rows:
        pdf.set_x(110)
        pdf.cell(50, 5, pdf.txt(label))
        pdf.cell(0, 5, pdf.txt(_money(amount, doc, locale)), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(110)
    pdf.set_font(pdf.family, "B", 10)
    pdf.cell(50, 7, pdf.txt(words["total"]), border="T")
    pdf.cell(0, 7, pdf.txt(_money(sums.total_minor, doc, locale)), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8)


def _notes(pdf: _Pdf, doc: Document, words: dict, locale: str) -> None:
    notes = list(doc.notes)
    if doc.vat_treatment in ("reverse_charge", "export"):
        notes.insert(0, words[doc.vat_treatment])
    for note in notes:
        pdf.ln(2)
        pdf.multi_cell(0, 4, pdf.txt(note), new_x="LMARGIN", new_y="NEXT")


def _payment_part(pdf: _Pdf, doc: Document, settings: Settings, words: dict, locale: str) -> None:
    """CHF: the QR-bill receipt and payment part on the bottom 105 mm of a
    page; EUR: the transfer details with the ISO 11649 reference."""
    total = doc.totals().total_minor
    if doc.currency != "CHF":
        if pdf.get_y() > 297 - 80:  # the details and the 40 mm code stay together
            pdf.add_page()
        pdf.ln(6)
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(0, 6, pdf.txt(words["payment_part"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(pdf.family, "", 9)
        top = pdf.get_y()
        for label, value in ((words["account"], settings.seller_name), (words["iban"], settings.seller_iban_eur),
                             (words["reference"], doc.payment_reference or ""),
                             (words["amount"], _money(total, doc, locale))):
            pdf.cell(45, 5, pdf.txt(label))
            pdf.cell(0, 5, pdf.txt(value), new_x="LMARGIN", new_y="NEXT")
        code = epc.epc_qr(settings, amount_minor=total, reference=doc.payment_reference,
                          text=f"{words['invoice']} {doc.number}")
        if code is not None:  # beside the details: 40 mm, the scan hint under it
            pdf.image(epc.image(code), x=150, y=top, w=40, h=40)
            pdf.set_xy(140, top + 41)
            pdf.set_font(pdf.family, "", 7)
            pdf.multi_cell(60, 3, pdf.txt(words["scan_to_pay"]), align="C")
        return
    debtor = slip.debtor_of(doc.buyer.name, doc.buyer.street, doc.buyer.postal_code, doc.buyer.city,
                            doc.buyer.country)
    qr = slip.bill(settings, reference=doc.payment_reference, amount_minor=total, language=doc.language,
                   debtor=debtor, message=f"{words['invoice']} {doc.number}")
    draw_qr_bill(pdf, qr, words, reference=doc.payment_reference, amount=slip.amount_text(total),
                 payer=debtor and [debtor["name"], debtor["street"], f"{debtor['pcode']} {debtor['city']}"])


def draw_qr_bill(pdf: _Pdf, qr, words: dict, *, reference: str, amount: str, payer: list[str] | None) -> None:
    """Receipt (62 mm) and payment part (148 mm) on the bottom 105 mm of a
    page, laid out as the Swiss Implementation Guidelines for the QR-bill ask."""
    if pdf.get_y() > 297 - 105 - 5:
        pdf.add_page()
    pdf.set_auto_page_break(False)
    pdf.footer_off = True  # the slip is cut off along the dashed lines: nothing may cross them
    top = 297 - 105
    pdf.set_draw_color(0, 0, 0)
    pdf.dashed_line(0, top, 210, top, 1, 1)
    pdf.dashed_line(62, top, 62, 297, 1, 1)
    iban = " ".join(qr.account[i:i + 4] for i in range(0, len(qr.account), 4))
    blocks = [(words["account"], [iban, *qr.creditor.as_paragraph()]),
              (words["reference"], [slip.formatted_reference(reference)])]
    payer_block = (words["payable_by"], payer or [])
    heads = (words["currency"], words["amount"])
    _title(pdf, 5, top + 5, words["receipt"])
    _blocks(pdf, 5, top + 12, [*blocks, payer_block])
    _amount(pdf, 5, top + 68, heads, qr.currency, amount)
    _title(pdf, 67, top + 5, words["payment_part"])
    pdf.image(slip.qr_image(qr), x=67, y=top + 17, w=46, h=46)  # the image itself: no PNG written and read back
    _amount(pdf, 67, top + 68, heads, qr.currency, amount)
    _blocks(pdf, 118, top + 5, [*blocks, (words["additional_info"], [qr.additional_information]), payer_block])


def _title(pdf: _Pdf, x: float, y: float, title: str) -> None:
    pdf.set_xy(x, y)
    pdf.set_font(pdf.family, "B", 11)
    pdf.cell(55, 6, pdf.txt(title))


def _blocks(pdf: _Pdf, x: float, y: float, blocks) -> None:
    pdf.set_xy(x, y)
    for head, lines in blocks:
        if not any(lines):
            continue
        pdf.set_x(x)
        pdf.set_font(pdf.family, "B", 6)
        pdf.cell(80, 3.5, pdf.txt(head), new_x="LEFT", new_y="NEXT")
        pdf.set_font(pdf.family, "", 8)
        for text in lines:
            pdf.set_x(x)
            pdf.cell(80, 3.5, pdf.txt(str(text)), new_x="LEFT", new_y="NEXT")
        pdf.ln(1.5)


def _amount(pdf: _Pdf, x: float, y: float, heads: tuple[str, str], currency: str, amount: str) -> None:
    pdf.set_xy(x, y)
    pdf.set_font(pdf.family, "B", 6)
    pdf.cell(15, 3.5, pdf.txt(heads[0]))
    pdf.cell(30, 3.5, pdf.txt(heads[1]))
    pdf.set_xy(x, y + 4)
    pdf.set_font(pdf.family, "", 8)
    pdf.cell(15, 4, currency)
    pdf.cell(30, 4, amount)
