"""The delivery worker (NTF-03, NTF-04): sends queued messages over their
channel's transport (e-mail: SMTP; SMS: the gateway), retries transient
failures with exponential backoff, dead-letters the rest.

Claim, send, record: a batch is claimed under a lease in a short
transaction, sent over one session per channel (one SMTP connection), and
each result is recorded in its own transaction right after its send. A
graceful stop finishes and records the message in flight and hands the rest
back, so a restart sends nothing twice; only a crash between a send and its
record re-sends that one message (one per delivery loop) once the lease
ends (SMTP gives no better;
the Message-ID and the SMS reference stay the same, so the copy is
recognisable). A message given up is published to
`notifications.message.dlq` before its `dead` status commits, so it cannot
end up dead without a trace.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import Database

from . import repository as repo
from .attachments import erased
from .config import Settings
from .metrics import DELIVERY_SECONDS, MESSAGES, SEND_SECONDS
from .models import DEAD, FAILED, SENT, Message
from .transport import Outcome, Transport

log = logging.getLogger(__name__)

DLQ_TOPIC = "notifications.message.dlq"
# What stays of a message that carried a one-time code once it is final.
REDACTED = "[one-time code removed after delivery]"
# (body, topic, key, headers) -> completes when the broker has the record
Publish = Callable[[bytes, str, bytes, dict[str, str]], Awaitable[object]]


def dead_letter_record(message: Message, outcome: Outcome) -> tuple[bytes, bytes, dict[str, str]]:
    """Body, key and headers of the dead-letter record of a message."""
    body = json.dumps({
        "message_id": message.id, "event_id": str(message.event_id), "event_type": message.event_type,
        "recipient": message.recipient, "account_id": str(message.account_id) if message.account_id else None,
        "address": message.address, "channel": message.channel, "template": message.template,
        "language": message.language, "subject": message.subject, "attempts": message.attempts,
        "created_at": message.created_at.isoformat(), "error": outcome.error}).encode()
    headers = {
        "x-error": (outcome.error or "")[:1000],
        "x-error-kind": "permanent" if outcome.status == "dead" else "attempts_exhausted",
        "x-attempts": str(message.attempts), "x-message-id": str(message.id),
        "x-event-id": str(message.event_id), "x-event-type": message.event_type,
        "x-channel": message.channel, "x-consumer": "notifications.delivery"}
    return body, message.recipient.encode(), headers


class DeliveryWorker:
    """Background task of every replica; replicas share the work safely."""

    def __init__(self, db: Database, transports: Transport | Mapping[str, Transport], clock: Clock,
                 settings: Settings, publish: Publish) -> None:
        if not isinstance(transports, Mapping):
            transports = {transports.channel: transports}
        self.db, self.transports, self.clock, self.settings, self.publish = db, dict(transports), clock, settings, publish
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def wake(self) -> None:
        """Look for due messages now (called when a transaction that queued one commits)."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that does not run the database's commit hooks: the
        worker's own writes must not wake it again (it would never idle)."""
        async with self.db.sessions() as session, session.begin():
            yield session

    async def deliver_due(self) -> int:
        """Claim and send one batch of due messages; returns how many were claimed."""
        s = self.settings
        now = self.clock.now()
        lease_until = now + timedelta(seconds=s.delivery_lease_seconds)
        async with self._transaction() as session:
            batch = await repo.claim_due(session, now, lease_until, s.delivery_batch_size)
        if batch:
            # Stop in time to record the last result before another replica may claim.
            margin = min(2 * s.smtp_timeout, s.delivery_lease_seconds / 2)
            await self._send(batch, stop_at=lease_until - timedelta(seconds=margin))
        return len(batch)

    async def _send(self, batch: list[Message], stop_at: datetime) -> None:
        done = 0
        try:
            async with contextlib.AsyncExitStack() as sessions:
                open_sessions: dict = {}  # one per channel for the whole batch (one SMTP connection)
                for done, message in enumerate(batch):
                    if self._stopping or self.clock.now() >= stop_at:
                        return await self._release(batch[done:])
                    outcome = await self._send_one(sessions, open_sessions, message)
                    # Recorded before the next send: a crash leaves at most the
                    # message on the wire sent but unrecorded (NTF-04).
                    await self._record([(message, outcome, self.clock.now())])
        except Exception:  # e.g. the database or the broker is down
            # This message keeps its lease (it may have gone out); the rest go back untried.
            await self._release(batch[done + 1:])
            raise

    async def _send_one(self, sessions: contextlib.AsyncExitStack, open_sessions: dict, message: Message) -> Outcome:
        transport = self.transports.get(message.channel)
        if transport is None:
            return Outcome("dead", f"no transport for channel {message.channel!r}")
        if message.channel not in open_sessions:
            open_sessions[message.channel] = await sessions.enter_async_context(transport.session())
        started = time.perf_counter()
        outcome = await open_sessions[message.channel].send(message)
        SEND_SECONDS.labels(message.channel, outcome.status).observe(time.perf_counter() - started)
        return outcome

    async def _release(self, messages: list[Message]) -> None:
        """Hand back claimed messages that were not tried, for any worker to take now."""
        if messages:
            async with self._transaction() as session:
                await repo.release(session, [m.id for m in messages], self.clock.now())

    def backoff(self, attempts: int) -> timedelta:
        s = self.settings
        return timedelta(seconds=min(s.delivery_backoff_base * 2 ** max(attempts - 1, 0), s.delivery_backoff_max))

    def _result(self, message: Message, outcome: Outcome, at: datetime) -> dict:
        """The row's new values after a try."""
        if outcome.status == "sent":
            values = {"status": SENT, "sent_at": at, "last_error": None}
        elif outcome.status == "retry" and message.attempts < self.settings.delivery_max_attempts:
            values = {"status": FAILED, "last_error": outcome.error,
                      "next_attempt_at": at + self.backoff(message.attempts)}
        else:
            values = {"status": DEAD, "last_error": outcome.error}
        if message.secret and values["status"] in (SENT, DEAD):
            values.update(body_text=REDACTED, body_html=None)  # the code is of no use to anyone now
        if message.attachments and values["status"] in (SENT, DEAD):
            values["attachments"] = erased(message.attachments)  # names and sizes stay, the content goes
        return {"id": message.id, **values}

    async def _record(self, results: list[tuple[Message, Outcome, datetime]]) -> None:
        """Record tries in one short transaction; dead letters are on the
        broker before their `dead` status commits."""
        changes = [self._result(m, o, at) for m, o, at in results]
        async with self._transaction() as session:
            if not self.db.is_sqlite:
                # One commit per message is on every mail's path; not waiting
                # for the WAL flush makes it cheap. Only a crash of the database
                # server itself can then drop the last marks (~0.6 s): those
                # mails go out again with the same Message-ID, none is lost.
                await session.execute(sa.text("SET LOCAL synchronous_commit = off"))
            await repo.update_messages(session, changes)
            for (message, outcome, _), change in zip(results, changes):
                if change["status"] == DEAD:
                    await self.publish(*self._dlq(message, outcome))
        for (message, _, at), change in zip(results, changes):
            self._count(message, change["status"], at)

    def _dlq(self, message: Message, outcome: Outcome) -> tuple[bytes, str, bytes, dict[str, str]]:
        body, key, headers = dead_letter_record(message, outcome)
        log.error("message %s to %s dead-lettered after %d attempt(s): %s", message.id, message.channel,
                  message.attempts, outcome.error)
        return body, DLQ_TOPIC, key, headers

    def _count(self, message: Message, status: str, now: datetime) -> None:
        MESSAGES.labels(message.channel, status).inc()
        if status == SENT:
            DELIVERY_SECONDS.labels(message.channel).observe(max((now - message.created_at).total_seconds(), 0))

    async def run(self) -> None:
        """The worker's loops: `delivery_concurrency` of them send batches side by side."""
        loops = max(self.settings.delivery_concurrency, 1)
        await asyncio.gather(*(self._loop() for _ in range(loops)))

    async def _loop(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._wake.clear()  # before reading, so a commit during the batch is not missed
            try:
                while not self._stopping and await self.deliver_due():
                    pass
                backoff = 0.1
            except Exception as exc:  # database or broker down: the messages wait, we retry
                log.warning("delivery worker: %s, retrying in %.1fs", type(exc).__name__, backoff, exc_info=True)
                await self._idle(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            await self._idle(self.settings.delivery_poll_interval)

    async def _idle(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
        # cancellation that lands as the event fires, and the task runs on.
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="notifications-delivery")

    async def stop(self) -> None:
        """Let the message being sent finish (bounded by the SMTP timeout),
        hand back the rest of the batch, then end the task."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=self.settings.smtp_timeout + 1)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for transport in self.transports.values():
            with contextlib.suppress(Exception):
                await transport.aclose()
