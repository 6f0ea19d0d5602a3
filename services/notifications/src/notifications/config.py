from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """notifications settings (env prefix NOTIFICATIONS_)."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/notifications.db"
    # Private keys (base64url X25519, comma-separated) that open the codes and
    # tokens producers sealed to this service; producers seal to the
    # newest public key, the older ones stay here until their events are gone.
    seal_private_keys: SecretStr | None = None
    # The delivery log (NTF-04) keeps sent and dead messages this many days
    # (never fewer than the inbox's, so a replayed event still finds its
    # messages); pending and retrying ones always stay.
    retention_messages_days: float = 365.0
    # SMTP relay (NTF-03). Production: a submission port with STARTTLS and credentials.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False  # implicit TLS (port 465)
    # CA bundle to verify the relay's certificate (a private CA); default: the system's.
    smtp_ca_file: str | None = None
    smtp_timeout: float = 10.0
    # An SMTP connection is kept open between batches for so long (NTF-03).
    smtp_idle_seconds: float = 30.0
    # Name given in EHLO; set it, or the system's FQDN is looked up (slow without DNS).
    smtp_local_hostname: str = "manager.local"
    mail_from: str = "Manager <no-reply@manager.local>"
    # SMS gateway (NTF-03): "http" posts to a provider's API; "file" appends
    # each SMS as a JSON line to `sms_file_path` (development: the local
    # platform's "phone"; never use it in production, the file holds codes).
    sms_gateway: Literal["http", "file"] = "file"
    sms_file_path: str = "./data/sms.jsonl"
    sms_http_url: str | None = None
    sms_http_token: SecretStr | None = None
    sms_sender: str = "Manager"
    sms_timeout: float = 10.0
    # Language of a message to an address with no account and no language
    # given by the event (e.g. an invitation), NTF-02.
    default_language: Literal["fr", "en", "de", "it", "es"] = "en"
    default_time_zone: str = "Europe/Zurich"
    # Operators of billing (NTF-01): a bank payment that matched nothing is
    # mailed here, in this language. Empty: such messages are not sent (the
    # payments still wait in billing's queue for a person to assign).
    billing_operator_email: str = ""
    billing_operator_language: Literal["fr", "en", "de", "it", "es"] = "en"
    # A card payment still waiting for 3-D Secure this long after it started
    # gets a reminder; none if it completes, fails or expires before (0: at once).
    payment_reminder_minutes: float = 10.0
    # "Invoice issued" waits this long: an invoice paid meanwhile (from the
    # prepaid balance, an automatic renewal) gets only "payment received".
    invoice_mail_delay_minutes: float = 2.0
    # Delivery worker (NTF-04): batch claimed per round, idle poll, retries.
    delivery_batch_size: int = 20
    # Batches sent side by side by one replica (each over its own connection).
    delivery_concurrency: int = 1
    delivery_poll_interval: float = 0.5
    delivery_max_attempts: int = 10
    delivery_backoff_base: float = 30.0
    delivery_backoff_max: float = 3600.0
    # A claimed batch is this replica's for so long; it stops sending before
    # the lease ends, so another replica never sends the same message meanwhile.
    delivery_lease_seconds: float = 120.0
