"""Fixtures every billing test package shares."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Tests that take it run on both databases: SQLite (the embedded
    default) and PostgreSQL (production), a real server either way."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    return request.getfixturevalue("postgres").create_database("billing")
