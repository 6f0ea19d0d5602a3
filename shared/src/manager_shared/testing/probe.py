"""A minimal service-shaped probe for testing the event machinery itself
(outbox, relay, idempotent consumer, dead letters) against a real broker and
database. Run as a module it is a consumer process that can crash on cue:

    python -m manager_shared.testing.probe <db_url> <bootstrap> <topic> <group> [crash|quiet]
"""
from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone

import sqlalchemy as sa
from faststream.kafka import KafkaBroker

from ..consumer import EventConsumer
from ..db import Database, UtcDateTime, event_tables
from ..events import AccountRegistered

metadata = sa.MetaData()
outbox, inbox = event_tables(metadata)
# One row per applied effect: a duplicate application would add a second row.
effect = sa.Table("effect", metadata,
                  sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                  sa.Column("event_id", sa.Uuid, nullable=False),
                  sa.Column("applied_at", UtcDateTime(), nullable=False))


async def create_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


def make_consumer(db: Database, broker: KafkaBroker, name: str = "probe") -> EventConsumer:
    consumer = EventConsumer(name, service="probe", db=db, inbox=inbox, broker=broker, max_attempts=3,
                             backoff_base=0.05)

    @consumer.on(AccountRegistered)
    async def apply(session, event) -> None:
        await session.execute(effect.insert().values(event_id=event.event_id,
                                                     applied_at=datetime.now(timezone.utc)))

    return consumer


async def effects_of(db: Database, event_id) -> int:
    async with db.transaction() as session:
        return (await session.execute(sa.select(sa.func.count()).select_from(effect)
                                      .where(effect.c.event_id == event_id))).scalar_one()


async def _run(db_url: str, bootstrap: str, topic: str, group: str, mode: str) -> None:
    db = Database(db_url)
    broker = KafkaBroker(bootstrap, log_level=10)
    consumer = make_consumer(db, broker)
    if mode == "crash":
        async def die(_event) -> None:
            print("committed; crashing before the ack", flush=True)
            os._exit(17)  # no ack, no clean shutdown: the offset is never committed
        consumer.after_commit = die
    if mode != "quiet":
        consumer.on_outcome = lambda event_type, outcome: print(f"outcome {event_type} {outcome}", flush=True)
    consumer.subscribe(topic, group_id=group, session_timeout_ms=1000, heartbeat_interval_ms=300)
    await broker.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, bootstrap, topic, group = sys.argv[1:5]
    asyncio.run(_run(url, bootstrap, topic, group, sys.argv[5] if len(sys.argv) > 5 else ""))
