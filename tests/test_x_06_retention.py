"""X-06 across services: every service's runtime comes with the retention
rules of the shared tables."""
from __future__ import annotations

import importlib


async def test_x_06_every_service_runtime_purges_its_event_tables_and_ended_sessions(service_env):
    """The runtime gives every service the outbox and inbox rules (and the
    ended-session projection's, where it keeps one)."""
    for name in ("identity", "organizations", "billing", "domains", "notifications"):
        main = importlib.import_module(f"{name}.main")
        config = importlib.import_module(f"{name}.config")
        app = main.create_app(config.Settings(database_url="sqlite+aiosqlite:///:memory:", **service_env))
        runtime = app.state.runtime
        names = [rule.name for rule in runtime.retention.rules]
        assert names[:2] == ["outbox", "processed_event"], name
        assert ("ended_session" in names) == (runtime.ended is not None), name
