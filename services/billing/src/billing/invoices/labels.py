"""The words on invoice documents, in the organization's language (BIL-06)."""
from __future__ import annotations

LANGUAGES = ("en", "de", "fr", "it", "es")
_KEYS = ("invoice", "credit_note", "proforma", "number", "date", "due", "buyer", "vat_number", "description",
         "period", "quantity", "unit_price", "discount", "amount", "net", "vat", "total", "paid_on", "reference",
         "payment_part", "receipt", "account", "payable_by", "additional_info", "no_legal_value",
         "reverse_charge", "export", "iban", "currency", "scan_to_pay")

_TEXT = {
    "en": ("Invoice", "Credit note", "Pro forma invoice", "Number", "Date", "Payable by", "Bill to", "VAT number",
           "Description", "Period", "Qty", "Unit price", "Discount", "Amount", "Net", "VAT", "Total", "Paid on",
           "Reference", "Payment part", "Receipt", "Account / Payable to", "Payable by", "Additional information",
           "PRO FORMA - NOT AN INVOICE - NO LEGAL VALUE",
           "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC).",
           "Export of services: not subject to VAT.", "IBAN", "Currency",
           "Scan with your banking app to pay"),
    "de": ("Rechnung", "Gutschrift", "Proforma-Rechnung", "Nummer", "Datum", "Zahlbar bis", "Rechnung an",
           "MWST-Nummer", "Beschreibung", "Zeitraum", "Menge", "Einzelpreis", "Rabatt", "Betrag", "Netto", "MWST",
           "Total", "Bezahlt am", "Referenz", "Zahlteil", "Empfangsschein", "Konto / Zahlbar an", "Zahlbar durch",
           "Zusätzliche Informationen", "PROFORMA - KEINE RECHNUNG - OHNE RECHTSWIRKUNG",
           "Steuerschuldnerschaft des Leistungsempfängers (Art. 196 MwStSystRL).",
           "Dienstleistungsexport: nicht der MWST unterstellt.", "IBAN", "Währung",
           "Mit Ihrer Banking-App scannen und bezahlen"),
    "fr": ("Facture", "Note de crédit", "Facture pro forma", "Numéro", "Date", "Payable jusqu'au", "Facturé à",
           "Numéro TVA", "Description", "Période", "Qté", "Prix unitaire", "Remise", "Montant", "Net", "TVA",
           "Total", "Payée le", "Référence", "Section paiement", "Récépissé", "Compte / Payable à", "Payable par",
           "Informations supplémentaires", "PRO FORMA - PAS UNE FACTURE - SANS VALEUR LÉGALE",
           "Autoliquidation : TVA due par le preneur (art. 196 directive 2006/112/CE).",
           "Exportation de services : non soumise à la TVA.", "IBAN", "Monnaie",
           "Scannez avec votre application bancaire pour payer"),
    "it": ("Fattura", "Nota di credito", "Fattura pro forma", "Numero", "Data", "Pagabile entro", "Intestata a",
           "Numero IVA", "Descrizione", "Periodo", "Qtà", "Prezzo unitario", "Sconto", "Importo", "Netto", "IVA",
           "Totale", "Pagata il", "Riferimento", "Sezione pagamento", "Ricevuta", "Conto / Pagabile a",
           "Pagabile da", "Informazioni supplementari", "PRO FORMA - NON È UNA FATTURA - SENZA VALORE LEGALE",
           "Inversione contabile: IVA dovuta dal destinatario (art. 196 direttiva 2006/112/CE).",
           "Esportazione di servizi: non soggetta a IVA.", "IBAN", "Valuta",
           "Scansionate con la vostra app bancaria per pagare"),
    "es": ("Factura", "Nota de crédito", "Factura proforma", "Número", "Fecha", "Pagadera hasta", "Facturar a",
           "Número de IVA", "Descripción", "Periodo", "Cant.", "Precio unitario", "Descuento", "Importe", "Neto",
           "IVA", "Total", "Pagada el", "Referencia", "Sección de pago", "Recibo", "Cuenta / Pagadero a",
           "Pagadero por", "Información adicional", "PROFORMA - NO ES UNA FACTURA - SIN VALOR LEGAL",
           "Inversión del sujeto pasivo: IVA a cargo del destinatario (art. 196 Directiva 2006/112/CE).",
           "Exportación de servicios: no sujeta a IVA.", "IBAN", "Moneda",
           "Escanee con su aplicación bancaria para pagar"),
}
assert all(len(v) == len(_KEYS) for v in _TEXT.values())


def labels(language: str) -> dict[str, str]:
    """The labels in `language`, English for anything else."""
    return dict(zip(_KEYS, _TEXT.get(language, _TEXT["en"])))


def locale_of(language: str, country: str) -> str:
    """Babel locale for amounts and dates: the language as written in the
    buyer's country when Babel knows that pair (de_CH), else the language."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(f"{language}_{country}")
        return f"{language}_{country}"
    except (UnknownLocaleError, ValueError):
        return language if language in LANGUAGES else "en"
