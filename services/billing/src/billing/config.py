from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """billing settings (env prefix BILLING_)."""

    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/billing.db"
