from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """billing settings (env prefix BILLING_)."""

    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/billing.db"

    # Prepaid account and card payments (BIL-02, BIL-03, BIL-10, part P).
    # Top-up limits in minor units of the account's currency (CHF/EUR).
    prepaid_top_up_min_minor: int = 1_000
    prepaid_top_up_max_minor: int = 500_000
    prepaid_top_up_daily_max_minor: int = 1_000_000  # over the last 24 hours
    # Idempotency keys are kept this long (a retry within it is answered from
    # the first response); a claim whose request died is free after the lease.
    idempotency_keep_hours: float = 24.0
    idempotency_lease_seconds: float = 60.0
    # A key whose request never answered and was not retried for this long is
    # closed for good and its card charge voided (payments.abandoned); well
    # above the lease, so a client's own retries come first.
    abandoned_request_minutes: float = 15.0
    # The PSP adapter ("local": the built-in test-mode provider) and its
    # webhook secret (HMAC-SHA256; empty: a random one per process, enough
    # for the local provider, which signs its own webhooks).
    payment_provider: str = "local"
    local_psp_webhook_secret: str = ""
    webhook_tolerance_seconds: int = 300
    # An unfinished 3-D Secure attempt expires after this; the sweep looks every interval (0: off).
    pending_payment_expiry_minutes: float = 30.0
    payment_sweep_interval_seconds: float = 60.0

    # Invoices (BIL-06, part I): the seller on every invoice, the accounts
    # transfers go to (CHF: a QR-IBAN, so QR references work; EUR: an IBAN
    # for ISO 11649 creditor references), and the payment term.
    seller_name: str = "Manager Hosting SA"
    seller_street: str = "Via Cantonale 1"
    seller_postal_code: str = "6900"
    seller_city: str = "Lugano"
    seller_country: str = "CH"
    seller_vat_number: str = "CHE-123.456.788 MWST"
    seller_qr_iban_chf: str = "CH4431999123000889012"
    seller_iban_eur: str = "CH9300762011623852957"
    # The EUR account's BIC, printed in the EPC QR code of EUR invoices: optional
    # inside the EEA, needed by some banking apps for an account outside it (CH).
    seller_bic_eur: str = ""
    invoice_payment_days: int = 30
    # TrueType fonts embedded in invoice PDFs (DejaVuSans.ttf and
    # DejaVuSans-Bold.ttf; Debian: fonts-dejavu-core); without them the PDFs
    # use the non-embedded core Helvetica (Latin-1 only).
    invoice_font_dir: str = "/usr/share/fonts/truetype/dejavu"

    # Renewals (BIL-04, part C): the renewal invoice is issued this many days
    # before the term ends; the scheduler looks every interval (0: off); the
    # renewals list shows this many months ahead unless "show all".
    renewal_invoice_days_before: int = 14
    renewal_scan_interval_seconds: float = 300.0
    renewals_horizon_months: int = 2
