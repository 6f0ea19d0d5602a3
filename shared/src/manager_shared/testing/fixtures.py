"""pytest plugin with the real components (enabled from the root conftest).

- `kafka`: a Tansu broker for the whole test session (bootstrap string on `.bootstrap`);
- `postgres`: a PostgreSQL server; `postgres.create_database(prefix)` gives a fresh DB URL;
- `mail_catcher`: a real SMTP server collecting mail (cleared for each test);
- `service_env`: settings overrides every service needs against the local broker.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .kafka import TansuBroker
from .postgres import PostgresServer
from .sealing import opened, sealed_bytes
from .smtp import MailCatcher


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> TansuBroker:
    broker = TansuBroker(log_path=Path(tmp_path_factory.mktemp("tansu")) / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _mail_catcher_session() -> MailCatcher:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mail_catcher(_mail_catcher_session: MailCatcher) -> MailCatcher:
    _mail_catcher_session.clear()
    _mail_catcher_session.reject_domain = None
    return _mail_catcher_session


def local_broker_settings(bootstrap: str) -> dict:
    """Overrides for the embedded broker: no idempotent producer, fast group
    joins, and the outbox published again when it comes back empty (X-05)."""
    return {"kafka_bootstrap": bootstrap, "kafka_idempotence": False,
            "kafka_session_timeout_ms": 1000, "kafka_heartbeat_interval_ms": 300,
            "relay_replay_on_new_broker": True}


@pytest.fixture
def service_env(kafka: TansuBroker) -> dict:
    return local_broker_settings(kafka.bootstrap)


def env_for(prefix: str, overrides: dict) -> dict[str, str]:
    """Turn settings overrides into environment variables for a subprocess."""
    env = dict(os.environ)
    env.update({f"{prefix}{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in overrides.items()})
    return env


async def feed(app, *events) -> list[str]:
    """Hand events to every one of the app's consumers that handles their
    type, as the broker would (each consumer is a group of its own); returns
    the outcomes (processed, duplicate, ...) of the first such consumer."""
    outcomes = []
    for event in events:
        body = sealed_bytes(event)
        handlers = [c for c, _ in app.state.runtime.consumers if event.type in c.handlers]
        results = [await c.handle_raw(event.topic, body) for c in handlers]
        outcomes.append(results[0])
    return outcomes


async def recorded(target, type_: str | None = None) -> list:
    """The events an app's unit of work recorded in its outbox (oldest first),
    optionally of one type, with their sealed codes and tokens opened with
    the test run's key. `target` is the app or an httpx client over it."""
    import sqlalchemy as sa

    from ..events import parse_event

    app = getattr(getattr(target, "_transport", None), "app", target)
    runtime = app.state.runtime
    table = runtime.outbox.table
    async with runtime.db.transaction() as session:
        rows = (await session.execute(sa.select(table.c.payload).order_by(table.c.id))).scalars()
        events = [opened(parse_event(p)) for p in rows]
    return [e for e in events if type_ is None or e.type == type_]
