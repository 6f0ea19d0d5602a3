"""BIL-06 over HTTP: lists with filters and pages, access for accounting-right
holders only, the PDF only once paid, the QR-bill of open CHF invoices, the
creditor reference of EUR ones, Factur-X for businesses, CSV and e-mail export."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from billing.invoices.models import Invoice
from billing.invoices.repository import unpaid_invoice_count
from manager_shared.events import MemberAdded, MemberRightsChanged
from manager_shared.testing.fixtures import feed, recorded

from .conftest import line


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_bil_06_issue_computes_lines_vat_and_records_invoice_issued(world):
    org, owner = await world.organization("CH")
    invoice = await world.issue(org, line(10000), line(3333, quantity=3, discount_minor=999, vat_category="reduced"))
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}", headers=world.h(owner))
    assert r.status_code == 200
    body = r.json()
    # 10000 at 8.1 % → 810; 3×3333−999 = 9000 at 2.6 % → 234
    assert (body["net_minor"], body["vat_minor"], body["total_minor"]) == (19000, 1044, 20044)
    assert [(x["net_minor"], x["vat_rate"]) for x in body["lines"]] == [(10000, "0.081"), (9000, "0.026")]
    assert body["status"] == "open" and body["number"] == "2026-000001" and body["due_on"] == "2026-04-01"
    assert body["payment_reference"] == "100000000000000020260000019"
    [event] = await recorded(world.app, "InvoiceIssued")
    assert (event.number, event.total_minor, event.currency, str(event.due_on)) == (
        "2026-000001", 20044, "CHF", "2026-04-01")
    [standing] = await recorded(world.app, "BillingStandingChanged")
    assert standing.unpaid_invoices == 1


async def test_bil_06_eu_business_with_valid_vat_number_gets_reverse_charge(world):
    org, owner = await world.organization("DE")
    r = await world.c.put(f"/v1/organizations/{org}/invoice-details", headers=world.h(owner),
                          json={"vat_number": "DE 136 695 976", "language": "de"})
    assert r.status_code == 200
    invoice = await world.issue(org, line(10000), currency="EUR")
    assert (invoice.vat_treatment, invoice.vat_minor, invoice.language) == ("reverse_charge", 0, "de")
    assert invoice.payment_reference == "RF94INV2026000001"
    r = await world.c.put(f"/v1/organizations/{org}/invoice-details", headers=world.h(owner),
                          json={"vat_number": "DE136695977"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_vat_number")
    r = await world.c.get(f"/v1/organizations/{org}/invoice-details", headers=world.h(owner))
    assert r.json() == {"vat_number": "DE136695976", "language": "de"}
    r = await world.c.get(f"/v1/organizations/{org}/invoice-details", headers=world.h(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")


async def test_bil_06_eu_consumer_pays_their_country_rate(world):
    org, _ = await world.organization("FR", kind="private")
    invoice = await world.issue(org, line(10000), currency="EUR")
    assert (invoice.vat_treatment, invoice.vat_minor, invoice.total_minor) == ("eu_destination", 2000, 12000)


async def test_bil_06_list_filters_by_status_and_period_and_pages(world):
    org, owner = await world.organization()
    first = await world.issue(org)
    world.clock._now = datetime(2026, 4, 15, 9, 0, tzinfo=timezone.utc)
    second = await world.issue(org)
    third = await world.issue(org)
    await world.pay(org, second.id)
    url = f"/v1/organizations/{org}/invoices"

    async def numbers(**params):
        r = await world.c.get(url, params=params, headers=world.h(owner))
        assert r.status_code == 200, r.text
        return [i["number"] for i in r.json()["items"]], r.json()["total"]

    assert await numbers() == ([third.number, second.number, first.number], 3)
    assert await numbers(status="paid") == ([second.number], 1)
    assert await numbers(status="pending") == ([third.number, first.number], 2)
    assert await numbers(issued_from="2026-03-02", issued_to="2026-03-02") == ([first.number], 1)
    assert await numbers(issued_from="2026-03-03") == ([third.number, second.number], 2)
    assert await numbers(issued_to="2026-04-14") == ([first.number], 1)
    assert await numbers(page=2, page_size=2) == ([first.number], 3)
    r = await world.c.get(url, params={"status": "bogus"}, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_bil_06_only_accounting_right_holders_see_invoices(world):
    org, owner = await world.organization()
    helper, accountant, admin, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(world.app,
               MemberAdded(organization_id=org, account_id=helper, role="collaborator", org_version=3),
               MemberAdded(organization_id=org, account_id=accountant, role="collaborator", org_version=4),
               MemberAdded(organization_id=org, account_id=admin, role="administrator", org_version=5),
               MemberRightsChanged(organization_id=org, account_id=accountant, grants=[], category_grants=[],
                                   full_access=False, accounting=True, changed_by=owner, org_version=6))
    invoice = await world.issue(org)
    other_org, other_owner = await world.organization()
    base = f"/v1/organizations/{org}/invoices"
    for url in (base, f"{base}/{invoice.id}", f"{base}/{invoice.id}/payment-slip", f"{base}.csv"):
        for who in (owner, accountant, admin):
            assert (await world.c.get(url, headers=world.h(who))).status_code == 200, (url, who)
        for who in (helper, stranger, other_owner):
            r = await world.c.get(url, headers=world.h(who))
            assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found"), (url, who)
    # an invoice of another organization, asked through one's own: not found either
    r = await world.c.get(f"/v1/organizations/{other_org}/invoices/{invoice.id}", headers=world.h(other_owner))
    assert (r.status_code, r.json()["code"]) == (404, "invoice_not_found")


async def test_bil_06_final_pdf_only_once_paid_in_the_organizations_language(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(12345))
    url = f"/v1/organizations/{org}/invoices/{invoice.id}/pdf"
    r = await world.c.get(url, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_paid")
    await world.pay(org, invoice.id)
    r = await world.c.get(url, params={"language": "de"}, headers=world.h(owner))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "Rechnung" in text and invoice.number in text and "Bezahlt am" in text
    assert "Manager Hosting SA" in text and "Muster AG" in text and "Bahnhofstrasse 1" in text
    assert "133.45" in text  # 123.45 + 8.1 % (10.00) as de_CH writes it
    assert "Zahlteil" not in text  # a paid invoice has no payment part
    for language, word in (("fr", "Facture"), ("it", "Fattura"), ("es", "Factura"), ("en", "Invoice")):
        r = await world.c.get(url, params={"language": language}, headers=world.h(owner))
        assert word in pdf_text(r.content)


async def test_bil_06_open_chf_invoice_has_a_qr_bill_payment_part(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}/payment-slip", headers=world.h(owner))
    assert r.status_code == 200
    text = pdf_text(r.content)
    assert "Payment part" in text and "Receipt" in text
    assert "10 00000 00000 00002 02600 00019" in text  # the QR reference, grouped as printed
    assert "CH44 3199 9123 0008 8901 2" in text and "108.10" in text
    reader = PdfReader(io.BytesIO(r.content))
    assert any("/Image" in str(x.get("/Subtype")) for x in reader.pages[-1]["/Resources"]["/XObject"].values()
               for x in [x.get_object()])
    await world.pay(org, invoice.id)
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}/payment-slip", headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_open")


async def test_bil_06_the_qr_payload_carries_iban_amount_and_reference(world):
    from billing.invoices import qrbill

    bill = qrbill.bill(world.app.state.invoices.settings, reference="100000000000000020260000019",
                       amount_minor=10810, language="it")
    data = bill.qr_data().splitlines()
    assert data[:3] == ["SPC", "0200", "1"] and "CH4431999123000889012" in data
    assert "108.10" in data and "QRR" in data and "100000000000000020260000019" in data


async def test_bil_06_open_eur_invoice_shows_iban_and_creditor_reference(world):
    org, owner = await world.organization("IT", kind="private")
    invoice = await world.issue(org, line(10000), currency="EUR")
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}/payment-slip",
                          params={"language": "it"}, headers=world.h(owner))
    text = pdf_text(r.content)
    assert "Sezione pagamento" in text and "RF94INV2026000001" in text and "CH9300762011623852957" in text


async def test_bil_06_factur_x_for_businesses_embeds_readable_xml(world):
    from facturx import get_xml_from_pdf
    from lxml import etree

    org, owner = await world.organization("CH")
    invoice = await world.issue(org, line(10000), line(500, quantity=2, discount_minor=100, period_start=None,
                                                      period_end=None))
    url = f"/v1/organizations/{org}/invoices/{invoice.id}/facturx"
    assert (await world.c.get(url, headers=world.h(owner))).json()["code"] == "invoice_not_paid"
    await world.pay(org, invoice.id)
    r = await world.c.get(url, headers=world.h(owner))
    assert r.status_code == 200
    filename, xml = get_xml_from_pdf(r.content, check_xsd=True)
    assert filename == "factur-x.xml"
    root = etree.fromstring(xml)
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
          "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
    assert root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=ns) == invoice.number
    summary = root.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", ns)
    # 10000 + (2×500−100) = 10900 net, 8.1 % → 882.9 → 883
    assert summary.findtext("ram:TaxBasisTotalAmount", namespaces=ns) == "109.00"
    assert summary.findtext("ram:TaxTotalAmount", namespaces=ns) == "8.83"
    assert summary.findtext("ram:GrandTotalAmount", namespaces=ns) == "117.83"
    assert summary.findtext("ram:DuePayableAmount", namespaces=ns) == "0.00"
    metadata = PdfReader(io.BytesIO(r.content)).trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"pdfaid:part>3<" in metadata or b'pdfaid:part="3"' in metadata  # PDF/A-3
    private_org, private_owner = await world.organization("CH", kind="private")
    private_invoice = await world.issue(private_org)
    r = await world.c.get(f"/v1/organizations/{private_org}/invoices/{private_invoice.id}/facturx",
                          headers=world.h(private_owner))
    assert (r.status_code, r.json()["code"]) == (409, "einvoice_only_for_businesses")


async def test_bil_06_csv_export_of_a_filtered_selection(world):
    org, owner = await world.organization()
    paid = await world.issue(org, line(10000))
    await world.issue(org, line(2000))
    await world.pay(org, paid.id, means="prepaid")
    r = await world.c.get(f"/v1/organizations/{org}/invoices.csv", params={"status": "paid"},
                          headers=world.h(owner))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["number"], x["status"], x["net"], x["vat"], x["total"], x["paid_on"]) for x in rows] == [
        (paid.number, "paid", "100.00", "8.10", "108.10", "2026-03-02")]


async def test_bil_06_export_by_email_records_the_csv_for_notifications(world):
    org, owner = await world.organization()
    await world.issue(org, line(10000))
    r = await world.c.post(f"/v1/organizations/{org}/invoices/export-email", json={"status": "pending"},
                           headers=world.h(owner))
    assert r.status_code == 202 and r.json()["invoice_count"] == 1
    [event] = await recorded(world.app, "InvoicesExported")
    assert event.requested_by == owner and event.organization_id == org and event.invoice_count == 1
    assert event.csv.startswith("number,kind,status") and "2026-000001" in event.csv
    assert event.filename == "invoices-2026-03-02.csv"


async def test_bil_06_export_by_email_refuses_an_oversized_selection(world, monkeypatch):
    from billing.invoices import api

    org, owner = await world.organization()
    await world.issue(org)
    monkeypatch.setattr(api, "MAX_EXPORT_CSV_BYTES", 100)
    r = await world.c.post(f"/v1/organizations/{org}/invoices/export-email", json={}, headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (422, "export_too_large")
    assert await recorded(world.app, "InvoicesExported") == []


async def test_bil_06_payable_refuses_paid_cancelled_foreign_and_unknown(world):
    from billing.invoices.errors import InvoiceAlreadyPaid, InvoiceNotFound, InvoiceNotPayable

    org, _ = await world.organization()
    other, _ = await world.organization()
    paid, cancelled, foreign = await world.issue(org), await world.issue(org), await world.issue(other)
    await world.pay(org, paid.id)
    r = await world.c.post(f"/v1/invoices/{cancelled.id}/cancel", json={"reason": "ordered twice"}, headers=world.op)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    for invoice_id, headers, expected in ((cancelled.id, world.op, (409, "invoice_not_payable")),
                                          (paid.id, world.op, (409, "invoice_already_paid")),
                                          (uuid.uuid4(), world.op, (404, "invoice_not_found")),
                                          (foreign.id, world.h(uuid.uuid4()), (403, "operator_scope_required"))):
        r = await world.c.post(f"/v1/invoices/{invoice_id}/cancel", json={"reason": "x"}, headers=headers)
        assert (r.status_code, r.json()["code"]) == expected
    [event] = await recorded(world.app, "InvoiceCancelled")
    assert (event.invoice_id, event.reason) == (cancelled.id, "ordered twice")
    cases = [(paid.id, InvoiceAlreadyPaid), (cancelled.id, InvoiceNotPayable), (foreign.id, InvoiceNotFound),
             (uuid.uuid4(), InvoiceNotFound)]
    for invoice_id, error in cases:
        with pytest.raises(error):
            async with world.app.state.runtime.db.transaction() as session:
                await world.app.state.invoices.payable(session, org, [invoice_id])
    async with world.app.state.runtime.db.transaction() as session:
        assert await unpaid_invoice_count(session, org) == 0
        assert (await session.get(Invoice, cancelled.id)).number == "2026-000002"  # keeps its number


async def test_bil_06_mark_paid_runs_hooks_and_records_invoice_paid(world):
    org, _ = await world.organization()
    invoice = await world.issue(org)
    seen = []

    async def hook(session, paid):
        seen.append((paid.id, paid.status, [line.offer_code for line in paid.lines]))
    world.app.state.invoices.on_paid(hook)
    await world.pay(org, invoice.id, means="bank_transfer")
    assert seen == [(invoice.id, "paid", ["hosting-pro"])]
    [event] = await recorded(world.app, "InvoicePaid")
    assert (event.invoice_id, event.means, event.total_minor) == (invoice.id, "bank_transfer", 10810)


async def test_bil_06_refund_issues_a_credit_note_to_prepaid(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 5405, "reason": "downgrade"},
                           headers=world.op)
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_refundable")
    await world.pay(org, invoice.id)
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 5405, "reason": "downgrade"},
                           headers=world.op)
    assert r.status_code == 201, r.text
    note = r.json()
    assert (note["kind"], note["number"], note["total_minor"], note["vat_minor"]) == (
        "credit_note", "CN-2026-000001", 5405, 405)
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 5406, "reason": "x"},
                           headers=world.op)
    assert (r.status_code, r.json()["code"]) == (409, "refund_exceeds_invoice")
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 5405, "reason": "rest"},
                           headers=world.op)
    assert r.status_code == 201
    got = (await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}", headers=world.h(owner))).json()
    assert (got["status"], got["refunded_minor"]) == ("refunded", 10810)
    assert (await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner))).json()[
        "balance_minor"] == 10810
    events = await recorded(world.app, "CreditNoteIssued")
    assert [(e.amount_minor, e.fully_refunded) for e in events] == [(5405, False), (5405, True)]
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 1, "reason": "x"},
                           headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (403, "operator_scope_required")


async def test_bil_06_factur_x_of_a_reverse_charge_invoice_and_a_credit_note(world):
    from facturx import get_xml_from_pdf
    from lxml import etree

    org, owner = await world.organization("DE")
    await world.c.put(f"/v1/organizations/{org}/invoice-details", headers=world.h(owner),
                      json={"vat_number": "DE136695976", "language": "de"})
    invoice = await world.issue(org, line(10000), currency="EUR")
    await world.pay(org, invoice.id)
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice.id}/facturx", headers=world.h(owner))
    assert r.status_code == 200, r.text
    _, xml = get_xml_from_pdf(r.content, check_xsd=True)
    ram = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    root = etree.fromstring(xml)
    header_tax = root.find(f".//{ram}ApplicableHeaderTradeSettlement/{ram}ApplicableTradeTax")
    assert header_tax.findtext(f"{ram}CategoryCode") == "AE"
    assert header_tax.findtext(f"{ram}ExemptionReasonCode") == "VATEX-EU-AE"
    assert root.find(f".//{ram}BuyerTradeParty//{ram}ID").text == "DE136695976"
    note = (await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 4000, "reason": "x"},
                               headers=world.op)).json()
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{note['id']}/facturx", headers=world.h(owner))
    _, xml = get_xml_from_pdf(r.content, check_xsd=True)
    root = etree.fromstring(xml)
    assert root.findtext(".//{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}ExchangedDocument/"
                         f"{ram}TypeCode") == "381"
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{note['id']}/pdf", headers=world.h(owner))
    assert r.status_code == 200 and "Gutschrift" in pdf_text(r.content)


async def test_bil_06_credit_note_of_a_mixed_rate_invoice_states_vat_per_rate(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000), line(9000, vat_category="reduced"))
    await world.pay(org, invoice.id)
    r = await world.c.post(f"/v1/invoices/{invoice.id}/refunds", json={"amount_minor": 10022, "reason": "half"},
                           headers=world.op)
    note = r.json()
    assert (note["net_minor"], note["vat_minor"], note["total_minor"]) == (9500, 522, 10022)
    assert [(x["vat_rate"], x["net_minor"]) for x in note["lines"]] == [("0.026", 4500), ("0.081", 5000)]
    text = pdf_text((await world.c.get(f"/v1/organizations/{org}/invoices/{note['id']}/pdf",
                                       headers=world.h(owner))).content)
    assert "Credit note" in text and "CN-2026-000001" in text and "100.22" in text
    assert "4.05" in text and "1.17" in text  # the stated VAT per rate, not recomputed
