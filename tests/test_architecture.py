"""X-01/X-05 structure checks: one shape for all five services, a shared
library that never imports a service, migrations that match the models."""
from __future__ import annotations

import ast
import asyncio
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from manager_shared.db import Database, migrate
from manager_shared.testing.platform import SERVICES

ROOT = Path(__file__).resolve().parents[1]
SHAPE = ["main.py", "config.py", "db.py", "models.py", "schemas.py", "repository.py", "service.py", "api.py",
         "consumers.py", "errors.py", "__main__.py"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_x_01_shared_library_never_imports_a_service():
    for path in (ROOT / "shared" / "src").rglob("*.py"):
        assert not (_imports(path) & set(SERVICES)), f"{path} imports a service"


@pytest.mark.parametrize("service", SERVICES)
def test_x_05_service_has_the_common_shape(service):
    base = ROOT / "services" / service
    for f in ("pyproject.toml", "Dockerfile", "alembic.ini", "migrations/env.py"):
        assert (base / f).exists(), f"{service}: {f} missing"
    for f in SHAPE:
        assert (base / "src" / service / f).exists(), f"{service}: {f} missing"
    others = set(SERVICES) - {service}
    for path in (base / "src").rglob("*.py"):
        assert not (_imports(path) & others), f"{path} imports another service"
        assert len(path.read_text().splitlines()) <= 500, f"{path} is over 500 lines: split it"


@pytest.mark.parametrize("service", SERVICES)
def test_x_01_migrations_match_models(service, tmp_path):
    """Applying the migrations gives exactly the tables the models describe."""
    main = importlib.import_module(f"{service}.main")
    models = importlib.import_module(f"{service}.models")
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/{service}.db")

    async def diff():
        await migrate(db, main.MIGRATIONS)
        async with db.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), models.Base.metadata))

    try:
        assert asyncio.run(diff()) == []
    finally:
        asyncio.run(db.dispose())
