from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """organizations settings (env prefix ORGANIZATIONS_)."""

    model_config = SettingsConfigDict(env_prefix="ORGANIZATIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/organizations.db"
    # Currency of organizations with no postal address yet (the personal one).
    default_currency: str = "CHF"
    # ORG-04: how long an invitation can be accepted.
    invitation_ttl_hours: int = 72
    # IDN-19 / ORG-13/14: how recent the sign-in must be for dangerous actions.
    recent_sign_in_seconds: int = 300
    # ORG-12: largest logo accepted.
    logo_max_bytes: int = 512 * 1024
    # ORG-09: how often the in-memory access state picks up other replicas' changes and blocked accounts.
    access_refresh_seconds: float = 0.5
