"""Idempotent event consumption with bounded retries and a dead-letter topic.

Each handled event is recorded as (consumer, event_id) in the same transaction
as its effect; a redelivered event finds the record and is skipped. The Kafka
offset is committed only after that transaction (AckPolicy.NACK_ON_ERROR: ack
after the handler returns, seek back if it raises), never on receipt.
"""
from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import sqlalchemy as sa
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .context import reset_correlation_id, set_correlation_id
from .db import Database
from .events import Event, UnknownEventType, parse_event
from .metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_RETRIED

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


# --- what a dead letter may say about its error (X-06) ---------------------
# An exception's text can carry the data it failed on: pydantic quotes the
# input (a code sent in clear), a database error its statement parameters (a
# rendered mail). Dead-letter headers outlive everything, so they get only
# what cannot hold a value: pydantic's locations and messages without input,
# the text of exceptions that declare `safe_to_log = True`, else the type and
# where it was raised.

def safe_error(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                         for e in exc.errors(include_url=False, include_context=False, include_input=False))
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}"
    if getattr(exc, "safe_to_log", False):
        return str(exc)
    return type(exc).__name__


def safe_trace(exc: BaseException) -> str:
    """The innermost frames as `file:line in function`, no values."""
    frames = traceback.extract_tb(exc.__traceback__)[-5:]
    return "\n".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames) or type(exc).__name__


class EventConsumer:
    """One named consumer of one service: a map of event type → handler."""

    def __init__(self, name: str, *, service: str, db: Database, inbox: sa.Table, broker: KafkaBroker,
                 max_attempts: int = 5, backoff_base: float = 0.2, backoff_max: float = 5.0) -> None:
        self.name, self.service, self.db, self.inbox, self.broker = name, service, db, inbox, broker
        self.max_attempts, self.backoff_base, self.backoff_max = max_attempts, backoff_base, backoff_max
        self.handlers: dict[str, Handler] = {}
        # Test hook: called after the effect is committed and before the ack,
        # to prove a crash there cannot apply the effect twice.
        self.after_commit: Callable[[Event], Awaitable[None]] | None = None
        # Observer of every outcome (type, outcome): tests and the probe use it.
        self.on_outcome: Callable[[str, str], None] | None = None

    def on(self, *event_types: type[Event]) -> Callable[[Handler], Handler]:
        """Decorator: `fn(session, event)` handles these event types."""
        def register(fn: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type.model_fields["type"].default] = fn
            return fn
        return register

    def subscribe(self, *topics: str, group_id: str | None = None, session_timeout_ms: int = 10000,
                  heartbeat_interval_ms: int = 3000, max_records: int = 500) -> None:
        """Attach to the broker; the group id defaults to `<service>.<consumer>`.

        Messages arrive in batches (in partition order); the offsets of a batch
        are committed once the whole batch has been handled.
        """
        async def on_batch(msg: KafkaMessage) -> None:
            records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
            await self.handle_records(records)

        self.broker.subscriber(
            *topics, batch=True, max_records=max_records, batch_timeout_ms=50,
            group_id=group_id or f"{self.service}.{self.name}", auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR, session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms, title=f"{self.service}.{self.name}",
            description=f"{self.service} consumer {self.name}: " + ", ".join(sorted(self.handlers)),
        )(on_batch)

    async def handle_records(self, records) -> list[str]:
        """Handle a batch of Kafka records.

        Fast path: every new event of the batch applied in one transaction
        (one commit for the lot). If anything in it fails, the transaction is
        rolled back and each event goes the slow path on its own, with retries
        and dead letters, so one poison event never blocks the others.
        """
        parsed: list[tuple[object, Event | None]] = []
        for record in records:
            try:
                parsed.append((record, parse_event(record.value)))
            except UnknownEventType as exc:  # a newer producer's event: skip, like handle_raw does
                self._count(str(exc), "ignored")
            except ValueError:
                parsed.append((record, None))  # the slow path dead-letters it
        if all(event is not None for _, event in parsed) and self.after_commit is None:
            try:
                return await self._apply_batch([e for _, e in parsed])
            except Exception as exc:
                log.info("%s/%s: batch of %d failed (%s), handling one by one", self.service, self.name,
                         len(parsed), type(exc).__name__)
        return [await self.handle_raw(r.topic, r.value, r) for r, _ in parsed]

    async def _apply_batch(self, events: list[Event]) -> list[str]:
        outcomes: list[tuple[str, str]] = []
        async with self.db.transaction() as session:
            seen = await self._seen_ids(session, [e.event_id for e in events])
            fresh: list[Event] = []
            for event in events:
                if event.type not in self.handlers:
                    outcomes.append((event.type, "ignored"))
                elif event.event_id in seen:
                    outcomes.append((event.type, "duplicate"))
                else:
                    seen.add(event.event_id)  # the same event twice in one batch
                    fresh.append(event)
                    outcomes.append((event.type, "processed"))
            if fresh:  # one round trip records the whole batch in the inbox
                now = datetime.now(timezone.utc)
                await session.execute(self.inbox.insert(), [
                    {"consumer": self.name, "event_id": e.event_id, "processed_at": now} for e in fresh])
            for event in fresh:
                token = set_correlation_id(event.correlation_id)
                try:
                    await self.handlers[event.type](session, event)
                finally:
                    reset_correlation_id(token)
        return [self._count(t, o) for t, o in outcomes]

    async def _seen_ids(self, session: AsyncSession, ids: list) -> set:
        rows = await session.execute(sa.select(self.inbox.c.event_id).where(
            self.inbox.c.consumer == self.name, self.inbox.c.event_id.in_(ids)))
        return set(rows.scalars())

    async def handle_raw(self, topic: str, body: bytes, record=None) -> str:
        """Handle one message body; returns the outcome (also counted in metrics)."""
        try:
            event = parse_event(body)
        except UnknownEventType as exc:
            return self._count(str(exc), "ignored")
        except ValueError as exc:  # bad JSON or contract violation: retrying cannot help
            await self._dead_letter(topic, body, exc, record, attempts=1)
            return self._count("malformed", "dead_lettered")
        handler = self.handlers.get(event.type)
        if handler is None:
            return self._count(event.type, "ignored")
        token = set_correlation_id(event.correlation_id)
        try:
            return await self._handle_with_retries(topic, body, record, event, handler)
        finally:
            reset_correlation_id(token)

    async def _handle_with_retries(self, topic: str, body: bytes, record, event: Event, handler: Handler) -> str:
        for attempt in range(1, self.max_attempts + 1):
            try:
                outcome = await self._apply_once(event, handler)
                if self.after_commit is not None:
                    await self.after_commit(event)
                return self._count(event.type, outcome)
            except Exception as exc:
                if attempt == self.max_attempts:
                    await self._dead_letter(topic, body, exc, record, attempts=attempt)
                    return self._count(event.type, "dead_lettered")
                EVENTS_RETRIED.labels(self.service, self.name).inc()
                delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
                log.warning("%s/%s: %s failed (%s), retry %d in %.2fs", self.service, self.name,
                            event.type, type(exc).__name__, attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _apply_once(self, event: Event, handler: Handler) -> str:
        try:
            async with self.db.transaction() as session:
                # The inbox row goes first: a concurrent duplicate blocks on the
                # primary key and then fails, instead of applying the effect too.
                await session.execute(self.inbox.insert().values(
                    consumer=self.name, event_id=event.event_id, processed_at=datetime.now(timezone.utc)))
                await handler(session, event)
        except IntegrityError:
            if await self._seen(event):
                return "duplicate"
            raise
        return "processed"

    async def _seen(self, event: Event) -> bool:
        async with self.db.transaction() as session:
            row = await session.execute(sa.select(self.inbox.c.event_id).where(
                self.inbox.c.consumer == self.name, self.inbox.c.event_id == event.event_id))
            return row.first() is not None

    async def _dead_letter(self, topic: str, body: bytes, exc: BaseException, record, attempts: int) -> None:
        headers = {
            "x-error-type": type(exc).__name__,
            "x-error": safe_error(exc)[:1000],
            "x-error-trace": safe_trace(exc)[:2000],
            "x-original-topic": topic,
            "x-consumer": f"{self.service}.{self.name}",
            "x-attempts": str(attempts),
        }
        if record is not None:
            headers["x-original-partition"] = str(record.partition)
            headers["x-original-offset"] = str(record.offset)
        key = getattr(record, "key", None)
        await self.broker.publish(body, dlq_topic(topic), key=key, headers=headers)
        EVENTS_DEAD_LETTERED.labels(self.service, topic).inc()
        log.error("%s/%s: message from %s dead-lettered (%s)", self.service, self.name, topic, type(exc).__name__)

    def _count(self, event_type: str, outcome: str) -> str:
        EVENTS_CONSUMED.labels(self.service, self.name, event_type, outcome).inc()
        if self.on_outcome is not None:
            self.on_outcome(event_type, outcome)
        return outcome
