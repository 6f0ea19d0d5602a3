"""BIL-03/06: an open EUR invoice's payment slip carries the EPC QR code
(EPC069-12 v002). The symbol is compared module by module with one made from
the payload the standard prescribes, written out here line by line. So the
seller, IBAN, BIC, amount and ISO 11649 reference in it are the invoice's."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import segno

from billing.config import Settings
from billing.invoices import epc, pdf

RF = "RF18539007547034"


def standard(*, name: str, iban: str, amount: str, reference: str = "", text: str = "", bic: str = "") -> segno.QRCode:
    """EPC069-12 v002: service tag, version, character set (1 = UTF-8),
    identification, BIC, name, IBAN, amount, purpose, structured reference,
    then unstructured text (trailing empty lines left out); level M."""
    lines = ["BCD", "002", "1", "SCT", bic, name, iban, f"EUR{amount}", "", reference]
    if text:
        lines.append(text)
    return segno.make_qr("\n".join(lines).rstrip("\n"), error="m", boost_error=False)


def same_symbol(a: segno.QRCode, b: segno.QRCode) -> bool:
    return (a.version, a.error, a.mask, list(a.matrix)) == (b.version, b.error, b.mask, list(b.matrix))


def test_bil_06_epc_qr_holds_the_seller_amount_and_creditor_reference():
    settings = Settings(seller_name="Manager Hosting SA", seller_iban_eur="CH93 0076 2011 6238 5295 7")
    code = epc.epc_qr(settings, amount_minor=12_345, reference=RF, text="Invoice 2026-000001")
    assert same_symbol(code, standard(name="Manager Hosting SA", iban="CH9300762011623852957", amount="123.45",
                                      reference=RF))
    assert not same_symbol(code, standard(name="Manager Hosting SA", iban="CH9300762011623852957",
                                          amount="123.54", reference=RF))


def test_bil_06_epc_qr_with_bic_or_without_reference_and_none_for_nothing_to_pay():
    settings = Settings(seller_name="Manager Hosting SA", seller_iban_eur="DE89370400440532013000",
                        seller_bic_eur="COBADEFFXXX")
    with_bic = epc.epc_qr(settings, amount_minor=100, reference=RF, text="x")
    assert same_symbol(with_bic, standard(name="Manager Hosting SA", iban="DE89370400440532013000", amount="1",
                                          reference=RF, bic="COBADEFFXXX"))
    text_only = epc.epc_qr(settings, amount_minor=100, reference=None, text="Invoice 2026-000002")
    assert same_symbol(text_only, standard(name="Manager Hosting SA", iban="DE89370400440532013000", amount="1",
                                           text="Invoice 2026-000002", bic="COBADEFFXXX"))
    assert epc.epc_qr(settings, amount_minor=0, reference=RF, text="x") is None
    assert epc.epc_qr(Settings(seller_iban_eur=""), amount_minor=100, reference=RF, text="x") is None


def document(currency: str) -> pdf.Document:
    return pdf.Document(kind="invoice", number="2026-000001", issued_on=date(2026, 12, 4), currency=currency,
                        language="de", due_on=date(2027, 1, 3),
                        lines=[pdf.DocLine("Hosting", "", 1, 10_000, 0, 10_000, Decimal("0.19"))],
                        buyer=pdf.Party("Muster GmbH", "Hauptstr. 1", "10115", "Berlin", "DE", None),
                        payment_reference=RF)


def test_bil_06_the_eur_payment_slip_shows_the_code_and_the_invoice_itself_does_not():
    settings = Settings()
    images = lambda content: content.count(b"/Subtype /Image")  # noqa: E731
    assert images(pdf.render(document("EUR"), settings, payment_part=True)) == 1
    assert images(pdf.render(document("EUR"), settings)) == 0
