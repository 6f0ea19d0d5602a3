"""notifications' event handlers: each runs in the transaction that also
records the event in the inbox, so a redelivered event changes nothing."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.consumer import EventConsumer
from manager_shared.events import AccountPreferencesChanged, AccountRegistered, Event
from manager_shared.runtime import ServiceRuntime

from .service import NotificationService


def register(runtime: ServiceRuntime, service: NotificationService) -> EventConsumer:
    """One consumer for the contact projection and every event of the catalog."""
    topics = sorted({AccountRegistered.topic} | {event_type.topic for event_type in service.catalog})
    consumer = runtime.consumer("events", *topics)

    @consumer.on(AccountRegistered)
    async def account_registered(session: AsyncSession, event: AccountRegistered) -> None:
        await service.remember_account(session, event)

    @consumer.on(AccountPreferencesChanged)
    async def preferences_changed(session: AsyncSession, event: AccountPreferencesChanged) -> None:
        await service.remember_preferences(session, event)

    async def queue_messages(session: AsyncSession, event: Event) -> None:
        await service.notify(session, event)

    for event_type in service.catalog:
        consumer.on(event_type)(queue_messages)
    return consumer
