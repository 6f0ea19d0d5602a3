"""notifications' event handlers: each runs in the transaction that also
records the event in the inbox, so a redelivered event changes nothing."""
from __future__ import annotations

from manager_shared.consumer import EventConsumer
from manager_shared.events import Event
from manager_shared.runtime import ServiceRuntime

from .catalog import EXPECTED_ACCOUNTS
from .service import NotificationService, expect


class BatchAwareConsumer(EventConsumer):
    """The shared idempotent consumer, telling the service which accounts a
    batch names before its handlers run, so their contact data is read in
    one query (the handlers still run one by one, in order, in one transaction)."""

    async def _apply_batch(self, events: list[Event]) -> list[str]:
        token = expect(events)
        try:
            return await super()._apply_batch(events)
        finally:
            EXPECTED_ACCOUNTS.reset(token)


def register(runtime: ServiceRuntime, service: NotificationService) -> EventConsumer:
    """One consumer for the projections and every event of the catalog: one
    consumer, so an organization's events and the messages they make are
    applied in the order of its partition."""
    handled = service.handled()
    topics = tuple(sorted({event_type.topic for event_type in handled}))
    s = runtime.settings
    consumer = BatchAwareConsumer("events", service=runtime.name, db=runtime.db, inbox=runtime.inbox_table,
                                  broker=runtime.broker, max_attempts=s.consumer_max_attempts,
                                  backoff_base=s.consumer_backoff_base)
    runtime.consumers.append((consumer, topics))
    for event_type in sorted(handled, key=lambda e: e.__name__):
        consumer.on(event_type)(service.handle)
    return consumer
