from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from manager_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """domains settings (env prefix DOMAINS_)."""

    model_config = SettingsConfigDict(env_prefix="DOMAINS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/domains.db"
