from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """identity settings (env prefix IDENTITY_)."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/identity.db"
    # Comma-separated CIDRs of reverse proxies whose X-Forwarded-For we believe.
    # Empty by default: the direct peer is the client.
    trusted_proxies: str = ""
    # PEM file of the EC P-256 signing key; if unset, a key is generated once
    # and kept in the database (fine for one deployment, rotate by file in prod).
    jwt_private_key_file: str | None = None
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_days: int = 30
    browser_session_ttl_hours: int = 12
    # Accounts (login e-mails, comma-separated) whose tokens carry the
    # `support` scope: block/unblock accounts, verify support codes (IDN-16..18).
    support_staff_emails: str = ""
    # Accounts (login e-mails, comma-separated) whose tokens carry the
    # `billing` scope: billing's operator endpoints (camt.054 import, the
    # queue of unmatched bank payments, cancel/refund, prices, payouts).
    billing_operator_emails: str = ""
    support_code_ttl_seconds: int = 600
    # After support verified the caller's support code, the window in which
    # staff may reset the account's 2FA (IDN-16/17).
    support_verification_ttl_seconds: int = 900
    # Sync servers (IMAP, CalDAV, WebDAV) that may check application passwords
    # (IDN-15): SHA-256 hex digests of their API keys, comma-separated. Empty
    # (the default) means no sync server is trusted and the check is refused.
    sync_client_key_hashes: str = ""
    # Brute force (IDN-04): per e-mail typed and per source address.
    account_delay_after: int = 3
    account_lock_after: int = 10
    account_lock_seconds: int = 900
    account_max_failures_per_hour: int = 100
    ip_delay_after: int = 20
    ip_lock_after: int = 50
    ip_lock_seconds: int = 900
    ip_max_failures_per_hour: int = 500
    # At most one LoginFailed alert per account in this window (IDN-08).
    failed_alert_window_seconds: int = 900
    # Argon2id parameters (OWASP: m=19 MiB, t=2, p=1 at least).
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # One-time codes by SMS / e-mail (IDN-06, IDN-13, IDN-14c), codes.py.
    # Secret of the keyed hash (HMAC-SHA256) the codes are stored as. Unset,
    # it is derived (HKDF) from the token signing key; set it (32+ random
    # bytes) when that key is kept in the database, so a copy of the database
    # alone cannot test guesses against the stored hashes.
    one_time_code_key: SecretStr | None = None
    sms_code_ttl_seconds: int = Field(default=300, ge=60, le=600)
    code_max_attempts: int = Field(default=5, ge=1, le=10)
    # Per account and per phone number / address, for each kind of code.
    code_cooldown_seconds: int = 60
    codes_per_hour: int = 5
    password_reset_code_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # Reset requests per typed e-mail and per source address in an hour
    # (the same whether or not the e-mail has an account).
    password_reset_requests_per_hour: int = 5
    password_reset_requests_per_hour_per_ip: int = 30
    email_change_code_ttl_seconds: int = Field(default=1800, ge=60, le=86400)
    # Security keys (IDN-14b, factor_webauthn.py). The relying party id is the
    # registrable domain the Manager's pages are served from (a key registered
    # for it works on its subdomains); origins (comma-separated) are the exact
    # scheme://host[:port] the browser reports, checked on every ceremony.
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "Manager"
    webauthn_origins: str = "http://localhost:8001"
    webauthn_challenge_ttl_seconds: int = Field(default=300, ge=30, le=600)
    # Push approval on the provider's app (IDN-14d, factor_push.py).
    push_pairing_ttl_seconds: int = Field(default=600, ge=60, le=1800)
    push_challenge_ttl_seconds: int = Field(default=120, ge=30, le=120)
    # A device's signed request is accepted this long either side of now.
    push_request_max_skew_seconds: int = Field(default=60, ge=5, le=300)
    # Retention (X-06, identity/retention.py): ended or expired sessions and
    # their refresh tokens, expired codes and spent mfa_tokens, idle throttle
    # rows (never one still locking or counting its hour) and activity.
    retention_sessions_days: float = Field(default=30, ge=1)
    retention_codes_days: float = Field(default=7, ge=1)
    retention_throttle_idle_hours: float = Field(default=24, ge=2)
    retention_activity_days: float = Field(default=365, ge=30)
    # Push requests per mfa_token (an approval prompt flood tires users, "MFA fatigue").
    push_requests_per_sign_in: int = Field(default=3, ge=1, le=10)
