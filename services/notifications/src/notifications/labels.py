"""Words for the codes billing's events carry (payment means, reasons,
periods...), in the five languages: `{{ event.reason|label("payment_failure") }}`.
An unknown code is shown as is (a newer producer), never an error."""
from __future__ import annotations

from jinja2 import pass_context

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "means": {
        "prepaid": {"fr": "solde prépayé", "en": "prepaid balance", "de": "Prepaid-Guthaben",
                    "it": "saldo prepagato", "es": "saldo prepago"},
        "card": {"fr": "carte de crédit", "en": "credit card", "de": "Kreditkarte", "it": "carta di credito",
                 "es": "tarjeta de crédito"},
        "bank_transfer": {"fr": "virement bancaire", "en": "bank transfer", "de": "Banküberweisung",
                          "it": "bonifico bancario", "es": "transferencia bancaria"},
        "mixed": {"fr": "solde prépayé et carte", "en": "prepaid balance and card",
                  "de": "Prepaid-Guthaben und Karte", "it": "saldo prepagato e carta",
                  "es": "saldo prepago y tarjeta"},
    },
    "payment_failure": {
        "declined": {"fr": "la banque a refusé le paiement", "en": "the bank declined the payment",
                     "de": "die Bank hat die Zahlung abgelehnt", "it": "la banca ha rifiutato il pagamento",
                     "es": "el banco rechazó el pago"},
        "insufficient_funds": {"fr": "fonds insuffisants", "en": "insufficient funds",
                               "de": "ungenügende Deckung", "it": "fondi insufficienti",
                               "es": "fondos insuficientes"},
        "authentication_failed": {"fr": "la confirmation 3-D Secure a échoué",
                                  "en": "the 3-D Secure confirmation failed",
                                  "de": "die 3-D-Secure-Bestätigung ist fehlgeschlagen",
                                  "it": "la conferma 3-D Secure non è riuscita",
                                  "es": "la confirmación 3-D Secure falló"},
        "expired": {"fr": "le paiement n’a pas été confirmé à temps (3-D Secure)",
                    "en": "the payment was not confirmed in time (3-D Secure)",
                    "de": "die Zahlung wurde nicht rechtzeitig bestätigt (3-D Secure)",
                    "it": "il pagamento non è stato confermato in tempo (3-D Secure)",
                    "es": "el pago no se confirmó a tiempo (3-D Secure)"},
    },
    "purpose": {
        "top_up": {"fr": "recharge du solde prépayé", "en": "top-up of the prepaid balance",
                   "de": "Aufladung des Prepaid-Guthabens", "it": "ricarica del saldo prepagato",
                   "es": "recarga del saldo prepago"},
        "invoices": {"fr": "paiement de factures", "en": "payment of invoices", "de": "Zahlung von Rechnungen",
                     "it": "pagamento di fatture", "es": "pago de facturas"},
    },
    "period": {
        "monthly": {"fr": "mensuelle", "en": "monthly", "de": "monatlich", "it": "mensile", "es": "mensual"},
        "quarterly": {"fr": "trimestrielle", "en": "quarterly", "de": "vierteljährlich", "it": "trimestrale",
                      "es": "trimestral"},
        "yearly": {"fr": "annuelle", "en": "yearly", "de": "jährlich", "it": "annuale", "es": "anual"},
    },
    "renewal_reason": {
        "auto_renew_off": {"fr": "le renouvellement automatique est désactivé",
                           "en": "automatic renewal is turned off",
                           "de": "die automatische Verlängerung ist ausgeschaltet",
                           "it": "il rinnovo automatico è disattivato",
                           "es": "la renovación automática está desactivada"},
        "prepaid_balance_too_low": {"fr": "le solde prépayé ne suffit pas", "en": "the prepaid balance is too low",
                                    "de": "das Prepaid-Guthaben reicht nicht aus",
                                    "it": "il saldo prepagato non è sufficiente",
                                    "es": "el saldo prepago no es suficiente"},
    },
    "destination": {
        "card": {"fr": "la carte utilisée pour la recharge", "en": "the card the top-up came from",
                 "de": "die Karte, mit der aufgeladen wurde", "it": "la carta usata per la ricarica",
                 "es": "la tarjeta de la recarga"},
        "iban": {"fr": "le compte bancaire", "en": "the bank account", "de": "das Bankkonto",
                 "it": "il conto bancario", "es": "la cuenta bancaria"},
    },
    "unmatched": {
        "unknown_reference": {"fr": "référence inconnue", "en": "unknown reference", "de": "unbekannte Referenz",
                              "it": "riferimento sconosciuto", "es": "referencia desconocida"},
        "amount_mismatch": {"fr": "le montant ne correspond pas", "en": "the amount does not match",
                            "de": "der Betrag stimmt nicht überein", "it": "l’importo non corrisponde",
                            "es": "el importe no coincide"},
        "not_open": {"fr": "la facture n’est plus ouverte", "en": "the invoice is no longer open",
                     "de": "die Rechnung ist nicht mehr offen", "it": "la fattura non è più aperta",
                     "es": "la factura ya no está abierta"},
        "currency_mismatch": {"fr": "la devise ne correspond pas", "en": "the currency does not match",
                              "de": "die Währung stimmt nicht überein", "it": "la valuta non corrisponde",
                              "es": "la moneda no coincide"},
    },
}


@pass_context
def label(ctx, code: str | None, vocabulary: str) -> str:
    return LABELS[vocabulary].get(code or "", {}).get(ctx["lang"], code or "")
