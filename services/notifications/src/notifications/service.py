"""notifications' business rules: keep the contact projection, turn events
into queued messages, show the delivery log. Never commits (the caller's
unit of work does) and never sends: the delivery worker does (delivery.py)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.clock import Clock
from manager_shared.events import AccountPreferencesChanged, AccountRegistered, Event

from . import repository as repo
from .catalog import CATALOG, Addressee, MessageKind
from .errors import NotYourMessages
from .metrics import MESSAGES
from .models import PENDING, Message
from .rendering import Renderer


QUEUED_FLAG = "notifications_queued"


@dataclass
class NotificationService:
    clock: Clock
    renderer: Renderer = field(default_factory=Renderer)
    catalog: Mapping[type[Event], MessageKind] = field(default_factory=lambda: dict(CATALOG))

    async def remember_account(self, session: AsyncSession, event: AccountRegistered) -> None:
        """Start (or refresh) the account's contact data; an older version
        than the one kept changes nothing."""
        await repo.upsert_recipient(session, {
            "account_id": event.account_id, "email": event.email, "first_name": event.first_name,
            "language": event.language, "time_zone": event.time_zone, "version": event.account_version,
            "updated_at": self.clock.now()})

    async def remember_preferences(self, session: AsyncSession, event: AccountPreferencesChanged) -> None:
        """Language, time zone and alert choices (IDN-10/11, NTF-05); a late
        or repeated event (lower or equal version) changes nothing."""
        await repo.update_recipient(session, event.account_id, event.account_version, {
            "language": event.language, "time_zone": event.time_zone,
            "disabled_alerts": ",".join(event.disabled_alerts), "updated_at": self.clock.now()})

    async def notify(self, session: AsyncSession, event: Event) -> int:
        """Queue the messages `event` calls for (NTF-01); returns how many are
        new. Runs in the consumer's transaction, beside its inbox record."""
        kind = self.catalog[type(event)]
        queued = 0
        for addressee in await kind.recipients(session, event):
            if kind.wanted_by(addressee, event.type) and await self._queue(session, event, kind, addressee):
                queued += 1
        return queued

    async def _queue(self, session: AsyncSession, event: Event, kind: MessageKind, to: Addressee) -> bool:
        rendered = self.renderer.render(kind.template, to.language, to.time_zone, event=event, to=to)
        now = self.clock.now()
        added = await repo.add_message(session, {
            "event_id": event.event_id, "event_type": event.type, "recipient": to.key,
            "account_id": to.account_id, "address": to.address, "channel": kind.channel,
            "template": kind.template, "language": rendered.language, "subject": rendered.subject,
            "body_text": rendered.text, "body_html": rendered.html, "status": PENDING, "attempts": 0,
            "created_at": now, "next_attempt_at": now})
        if added:
            MESSAGES.labels(kind.channel, PENDING).inc()
            session.info[QUEUED_FLAG] = True  # wakes the delivery worker once this transaction commits
        return added

    async def delivery_log(self, session: AsyncSession, caller: Principal, account_id: uuid.UUID | None,
                           limit: int, before: int | None) -> Sequence[Message]:
        """Messages of one account, newest first (NTF-04). Only the caller's
        own until an operator role exists."""
        account_id = account_id or caller.account_id
        if account_id != caller.account_id:
            raise NotYourMessages()
        return await repo.messages_of(session, account_id, limit, before)
