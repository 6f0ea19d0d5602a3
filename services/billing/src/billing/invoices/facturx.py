"""The e-invoice for businesses (BIL-06): Factur-X / ZUGFeRD, a PDF/A-3 with
an EN 16931 CII XML of profile BASIC embedded (`factur-x` library, which
also checks the XML against the schema before embedding it)."""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from ..config import Settings
from ..money import to_decimal
from . import vat
from .pdf import latin1
from .totals import stated

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
GUIDELINE = "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}  # UNTDID 1001
_EXEMPTION = {"AE": ("Reverse charge", "VATEX-EU-AE"), "G": ("Export outside the EU", "VATEX-EU-G")}


def _el(parent, tag: str, text: str | None = None, **attrs):
    ns, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{RSM if ns == 'rsm' else RAM if ns == 'ram' else UDT}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _amount(minor: int) -> str:
    return str(to_decimal(minor))


def _date(parent, tag: str, value) -> None:
    _el(_el(parent, tag), "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(parent, tag: str, name: str, street: str, postal_code: str, city: str, country: str,
           vat_number: str | None) -> None:
    party = _el(parent, tag)
    _el(party, "ram:Name", name)
    address = _el(party, "ram:PostalTradeAddress")
    if postal_code:
        _el(address, "ram:PostcodeCode", postal_code)
    if street:
        _el(address, "ram:LineOne", street)
    if city:
        _el(address, "ram:CityName", city)
    _el(address, "ram:CountryID", country)
    if vat_number:
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", vat_number, schemeID="VA")


def _category(invoice, rate: Decimal) -> str:
    return vat.category_code(invoice.vat_treatment, rate)


def _line(transaction, invoice, line) -> None:
    item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
    _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(line.position))
    _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
    price = _el(_el(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _el(price, "ram:ChargeAmount", _amount(line.unit_price_minor))
    _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", str(line.quantity), unitCode="C62")
    settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
    rate = Decimal(line.vat_rate)
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", _category(invoice, rate))
    _el(tax, "ram:RateApplicablePercent", f"{rate * 100:.2f}")
    if line.period_start and line.period_end:
        period = _el(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", line.period_start)
        _date(period, "ram:EndDateTime", line.period_end)
    if line.discount_minor:
        allowance = _el(settlement, "ram:SpecifiedTradeAllowanceCharge")
        _el(_el(allowance, "ram:ChargeIndicator"), "udt:Indicator", "false")
        _el(allowance, "ram:ActualAmount", _amount(line.discount_minor))
        _el(allowance, "ram:Reason", "Discount")
    _el(_el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount",
        _amount(line.net_minor))


def cii_xml(invoice, settings: Settings) -> bytes:
    """The invoice as CII XML (Factur-X BASIC)."""
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "udt": UDT})
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", invoice.number)
    _el(document, "ram:TypeCode", TYPE_CODES[invoice.kind])
    _date(document, "ram:IssueDateTime", invoice.issued_at)
    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(transaction, invoice, line)
    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _party(agreement, "ram:SellerTradeParty", settings.seller_name, settings.seller_street,
           settings.seller_postal_code, settings.seller_city, settings.seller_country, settings.seller_vat_number)
    _party(agreement, "ram:BuyerTradeParty", invoice.buyer_name, invoice.buyer_street, invoice.buyer_postal_code,
           invoice.buyer_city, invoice.buyer_country, invoice.buyer_vat_number)
    _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    _settlement(transaction, invoice, settings)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _settlement(transaction, invoice, settings: Settings) -> None:
    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    if invoice.payment_reference:
        _el(settlement, "ram:PaymentReference", invoice.payment_reference)
    _el(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _el(means, "ram:TypeCode", "58")  # SEPA / credit transfer
    iban = settings.seller_qr_iban_chf if invoice.currency == "CHF" else settings.seller_iban_eur
    _el(_el(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", iban)
    sums = stated((line.net_minor, Decimal(line.vat_rate), line.vat_minor) for line in invoice.lines)
    for group in sums.groups:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(group.vat_minor))
        _el(tax, "ram:TypeCode", "VAT")
        code = _category(invoice, group.rate)
        if code in _EXEMPTION:
            _el(tax, "ram:ExemptionReason", _EXEMPTION[code][0])
        _el(tax, "ram:BasisAmount", _amount(group.net_minor))
        _el(tax, "ram:CategoryCode", code)
        if code in _EXEMPTION:
            _el(tax, "ram:ExemptionReasonCode", _EXEMPTION[code][1])
        _el(tax, "ram:RateApplicablePercent", f"{group.rate * 100:.2f}")
    if invoice.due_on:
        _date(_el(settlement, "ram:SpecifiedTradePaymentTerms"), "ram:DueDateDateTime", invoice.due_on)
    summary = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summary, "ram:LineTotalAmount", _amount(sums.net_minor))
    _el(summary, "ram:TaxBasisTotalAmount", _amount(sums.net_minor))
    _el(summary, "ram:TaxTotalAmount", _amount(sums.vat_minor), currencyID=invoice.currency)
    _el(summary, "ram:GrandTotalAmount", _amount(sums.total_minor))
    due = 0 if invoice.status in ("paid", "refunded") else sums.total_minor
    _el(summary, "ram:DuePayableAmount", _amount(due))


def embed(pdf_bytes: bytes, invoice, settings: Settings) -> bytes:
    """The invoice PDF turned into a Factur-X PDF/A-3 carrying its XML."""
    from facturx import generate_from_binary

    return generate_from_binary(pdf_bytes, cii_xml(invoice, settings), flavor="factur-x", level="basic",
                                check_xsd=True, lang=invoice.language,
                                pdf_metadata={"author": latin1(settings.seller_name),
                                              "title": f"{invoice.number}", "subject": f"Invoice {invoice.number}",
                                              "keywords": "Factur-X"})
