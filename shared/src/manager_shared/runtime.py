"""The composition of one service process: FastAPI app + FastStream broker
sharing one lifespan, with the database, outbox relay and consumers."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from .access import BlockedAccounts, Memberships, OrgAccessStore
from .access_check import ACCESS_EVENTS
from .auth import JwksCache, Principal, TokenVerifier, bearer_token
from .background import cancel_and_wait
from .body_limit import BodyLimitMiddleware
from .consumer import EventConsumer
from .db import Database, migrate
from .errors import install_error_handlers
from .events import (AccountBlocked, AccountUnblocked, MemberAdded, MemberRemoved, MemberRoleChanged,
                     OrganizationDeleted, SessionsEnded)
from .incarnation import BrokerIncarnation
from .metrics import MetricsMiddleware, metrics_response
from .outbox import Outbox, OutboxRelay
from .readiness import CachedProbe, run_checks
from .redaction import SealedFieldEraser
from .retention import Retention, event_table_rules
from .sealing import producer_sealer
from .sessions import EndedSessions, refusal
from .settings import ServiceSettings
from .topics import ensure_topics

log = logging.getLogger(__name__)

# Drivers that log statement parameters or message bodies at DEBUG: those
# carry one-time codes and addresses (outbox payloads, queued messages), so
# they never go below WARNING whatever LOG_LEVEL says (no secrets in logs).
PAYLOAD_LOGGERS = ("aiosqlite", "aiokafka", "sqlalchemy.engine", "asyncpg", "faststream.access")


def quiet_payload_loggers() -> None:
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.WARNING))


class ServiceRuntime:
    """Everything a service needs at run time, built once in its main.py."""

    def __init__(self, name: str, settings: ServiceSettings, *, outbox_table: sa.Table, inbox_table: sa.Table,
                 migrations: Path, blocked_table: sa.Table | None = None, ended_table: sa.Table | None = None,
                 member_table: sa.Table | None = None, access_table: sa.Table | None = None) -> None:
        self.name, self.settings, self.migrations = name, settings, migrations
        self.db = Database(settings.database_url)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap, acks="all", enable_idempotence=settings.kafka_idempotence,
            client_id=f"manager-{name}", log_level=logging.DEBUG,
            description=f"Events produced and consumed by the {name} service.")
        # Codes and tokens in events are sealed to notifications' key; a
        # producer of them without the key refuses to start.
        self.outbox = Outbox(outbox_table, sealer=producer_sealer(name, settings.notifications_seal_key))
        self.relay = OutboxRelay(
            self.db, outbox_table, self._publish, service=name, batch_size=settings.relay_batch_size,
            lease_seconds=settings.relay_lease_seconds,
            incarnation=BrokerIncarnation(settings.kafka_bootstrap, client_id=f"manager-{name}-relay")
            if settings.relay_replay_on_new_broker else None,
            replay_window_seconds=settings.relay_replay_window_hours * 3600, on_new_broker=self._ensure_topics)
        self.inbox_table = inbox_table
        # X-06: what only grows is purged; a service adds its own tables' rules.
        self.retention = Retention(self.db, name, interval_seconds=settings.retention_interval_seconds,
                                   batch_size=settings.retention_batch_size)
        event_table_rules(self.retention, outbox_table, inbox_table, outbox_days=settings.retention_outbox_days,
                          inbox_days=settings.retention_inbox_days,
                          replay_window_hours=settings.relay_replay_window_hours)
        if ended_table is not None:  # an ended session's tokens expired long before this
            self.retention.keep_for(ended_table, ended_table.c.ended_at,
                                    timedelta(hours=settings.retention_ended_sessions_hours))
        self.consumers: list[tuple[EventConsumer, tuple[str, ...]]] = []
        self.verifier = TokenVerifier(JwksCache(settings.jwks_url), issuer=settings.token_issuer,
                                      audience=settings.token_audience)
        self.blocked = BlockedAccounts(blocked_table) if blocked_table is not None else None
        # ...and of the sessions identity ended (sign-out, revocation, password change: IDN-03)
        self.ended = EndedSessions(ended_table) if ended_table is not None else None
        # Services that decide who may act on an organization keep its memberships (ORG-09).
        self.members = Memberships(member_table) if member_table is not None else None
        # ...and their whole access state, for the ORG-09 check (`runtime.access.check`).
        self.access = OrgAccessStore(access_table, self.blocked) if access_table is not None else None
        self.current_principal = self._principal
        self._document_publishers()
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._started: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._extra_topics: set[str] = set()
        if self.outbox.sealer is not None:  # published codes and tokens do not stay in the outbox
            self.eraser = SealedFieldEraser(self.db, outbox_table, after_seconds=settings.outbox_redact_after_seconds)
            self.on_started(self.eraser.start)
            self.on_shutdown(self.eraser.stop)
        self.on_started(self.retention.start)
        self.on_shutdown(self.retention.stop)
        self._probes = {"database": CachedProbe(self.db.ping),
                        "broker": CachedProbe(lambda: self.broker.ping(timeout=5.0))}
        self._gap_watch: asyncio.Task | None = None
        if self.access is not None:  # an early event whose gap stays open is logged and measured
            self.on_started(self._watch_gaps)
            self.on_shutdown(self._unwatch_gaps)

    async def _principal(self, request: Request) -> Principal:
        """The verified caller; refused at once if identity blocked the account
        (IDN-18) or ended the token's session (IDN-03), from this service's own
        projections of those events, read in one statement."""
        who = await self.verifier.verify(bearer_token(request))
        if self.blocked is not None or self.ended is not None:
            async with self.db.engine.connect() as conn:
                refused = await refusal(conn, who.account_id, who.session_id, blocked=self.blocked,
                                        ended=self.ended)
            if refused is not None:
                raise refused
        return who

    def _follow_memberships(self) -> None:
        if self.members is None and self.access is None:
            return
        members, access = self.members, self.access
        consumer = self.consumer("memberships", MemberAdded.topic)
        membership_events = (MemberAdded, MemberRoleChanged, MemberRemoved, OrganizationDeleted)

        async def on_access_event(session, event) -> None:
            if members is not None and isinstance(event, membership_events):
                await members.apply(session, event)
            if access is not None:
                await access.apply(session, event)

        consumer.on(*(ACCESS_EVENTS if access is not None else membership_events))(on_access_event)

    def _follow_blocking(self) -> None:
        if self.blocked is None and self.ended is None:
            return
        status = self.consumer("account_status", AccountBlocked.topic)
        blocked, ended = self.blocked, self.ended
        if blocked is not None:
            @status.on(AccountBlocked, AccountUnblocked)
            async def on_block_change(session, event: AccountBlocked | AccountUnblocked) -> None:
                await blocked.apply(session, event)
        if ended is not None:
            @status.on(SessionsEnded)
            async def on_sessions_ended(session, event: SessionsEnded) -> None:
                await ended.apply(session, event)

    async def _watch_gaps(self) -> None:
        self._gap_watch = asyncio.create_task(self.access.watch_gaps(self.db), name=f"{self.name}-access-gaps")

    async def _unwatch_gaps(self) -> None:
        await cancel_and_wait(self._gap_watch)
        self._gap_watch = None

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` at start-up, after migrations, before the broker starts."""
        self._startup.append(hook)

    def on_started(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` once the broker and relay run (background workers that publish)."""
        self._started.append(hook)

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` first at shutdown, while the broker is still up."""
        self._shutdown.append(hook)

    def produces(self, *topics: str) -> None:
        """Topics published outside the event contracts (e.g. a service's own dead letters)."""
        self._extra_topics.update(topics)

    async def _publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]):
        return await self.broker.publish(value, topic, key=key, headers=headers, no_confirm=True)

    async def _ensure_topics(self) -> None:
        await ensure_topics(self.settings.kafka_bootstrap, self.topics(),
                            partitions=self.settings.kafka_partitions, replication=self.settings.kafka_replication)

    def consumer(self, name: str, *topics: str) -> EventConsumer:
        """Declare a consumer of `topics`; it subscribes when the app starts."""
        s = self.settings
        c = EventConsumer(name, service=self.name, db=self.db, inbox=self.inbox_table, broker=self.broker,
                          max_attempts=s.consumer_max_attempts, backoff_base=s.consumer_backoff_base)
        self.consumers.append((c, topics))
        return c

    def topics(self) -> set[str]:
        """Topics this service produces, consumes, and dead-letters into."""
        from .consumer import dlq_topic
        from .events import ALL_EVENTS

        produced = {e.topic for e in ALL_EVENTS if e.producer_name == self.name}
        consumed = {t for _, topics in self.consumers for t in topics} if self.settings.consumers_enabled else set()
        return produced | consumed | {dlq_topic(t) for t in consumed} | self._extra_topics

    def _document_publishers(self) -> None:
        """Declare this service's topics with their event schemas, so
        /asyncapi.json tells subscribers what they will receive (X-02)."""
        from typing import Union

        from .events import ALL_EVENTS

        by_topic: dict[str, list] = {}
        for event in ALL_EVENTS:
            if event.producer_name == self.name:
                by_topic.setdefault(event.topic, []).append(event)
        for topic, events in by_topic.items():
            self.broker.publisher(topic, title=topic, schema=Union[tuple(events)],  # noqa: UP007
                                  description="; ".join(f"{e.__name__}: {(e.__doc__ or '').strip().splitlines()[0]}"
                                                        for e in events))

    def _subscribe_all(self) -> None:
        s = self.settings
        if not s.consumers_enabled:
            return
        for consumer, topics in self.consumers:
            consumer.subscribe(*topics, session_timeout_ms=s.kafka_session_timeout_ms,
                               heartbeat_interval_ms=s.kafka_heartbeat_interval_ms)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        if self.settings.migrate_on_start:
            await migrate(self.db, self.migrations)
        for hook in self._startup:
            await hook()
        await self._ensure_topics()
        self._subscribe_all()
        await self.broker.start()
        self.relay.start()
        for hook in self._started:
            await hook()
        log.info("%s started", self.name)
        try:
            yield
        finally:
            for hook in reversed(self._shutdown):
                await hook()
            await self.relay.stop()
            for probe in self._probes.values():
                probe.close()
            await self.broker.stop()
            await self.db.dispose()

    async def readiness(self) -> dict[str, str]:
        """Database and broker checked at once, each bounded by
        READINESS_TIMEOUT_SECONDS, so a hung dependency makes a 503 naming
        it, never a hung answer."""
        return await run_checks(self._probes, self.settings.readiness_timeout_seconds)

    def create_app(self, *, version: str, description: str, routers: Iterable[APIRouter] = ()) -> FastAPI:
        app = FastAPI(title=f"Manager {self.name}", version=version, description=description,
                      lifespan=self.lifespan)
        app.state.runtime = self
        quiet_payload_loggers()
        # after the service's own consumers: theirs come first in `consumers`
        self._follow_memberships()
        self._follow_blocking()
        # inside the metrics middleware, so refused bodies are counted too
        app.add_middleware(BodyLimitMiddleware, max_bytes=self.settings.max_request_body_bytes)
        app.add_middleware(MetricsMiddleware, service=self.name)
        install_error_handlers(app)
        app.include_router(self._ops_router(version))
        for router in routers:
            app.include_router(router)
        return app

    def _ops_router(self, version: str) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/healthz")
        async def healthz() -> dict:
            """Liveness: the process answers."""
            return {"status": "ok", "service": self.name, "version": version}

        @router.get("/readyz")
        async def readyz() -> JSONResponse:
            """Readiness: the database and the broker are reachable."""
            checks = await self.readiness()
            ok = all(v == "ok" for v in checks.values())
            return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                                status_code=200 if ok else 503)

        @router.get("/metrics", include_in_schema=False)
        async def metrics():
            return metrics_response()

        @router.get("/asyncapi.json", include_in_schema=False)
        async def asyncapi() -> JSONResponse:
            """AsyncAPI description of the events this service consumes (X-02)."""
            from faststream.specification import AsyncAPI
            return JSONResponse(AsyncAPI(self.broker, title=f"Manager {self.name}").to_specification().to_jsonable())

        return router


def runtime_of(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one transaction per request, committed if the
    endpoint succeeds, rolled back (with its events) if it fails. Use it as
    `Depends(get_session, scope="function")`: the commit then happens before
    the response is sent. With FastAPI's default scope it ran after, so a
    client could be told 201 before the change was committed (and read the
    old state right after; seen in the billing end-to-end test)."""
    async for session in runtime_of(request).db.session_dependency():
        yield session


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller (401 with a stable code otherwise)."""
    return await runtime_of(request).current_principal(request)
