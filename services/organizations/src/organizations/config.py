from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """organizations settings (env prefix ORGANIZATIONS_)."""

    model_config = SettingsConfigDict(env_prefix="ORGANIZATIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/organizations.db"
    # Currency of organizations with no postal address yet (the personal one).
    default_currency: str = "CHF"
