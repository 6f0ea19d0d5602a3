"""notifications' event handlers: each runs in the transaction that also
records the event in the inbox, so a redelivered event changes nothing."""
from __future__ import annotations

from manager_shared.consumer import EventConsumer
from manager_shared.runtime import ServiceRuntime

from .service import NotificationService


def register(runtime: ServiceRuntime, service: NotificationService) -> EventConsumer:
    """One consumer for the projections and every event of the catalog: one
    consumer, so an organization's events and the messages they make are
    applied in the order of its partition."""
    handled = service.handled()
    consumer = runtime.consumer("events", *sorted({event_type.topic for event_type in handled}))
    for event_type in sorted(handled, key=lambda e: e.__name__):
        consumer.on(event_type)(service.handle)
    return consumer
