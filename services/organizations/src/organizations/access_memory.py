"""organizations' answer to the HTTP access check (ORG-09) from memory.

The truth is the `org_access` table, written in the transaction of every
change (core.Core.emit). This process keeps every organization's parsed state
in memory: a change it commits is copied in right after the commit (so it
counts from the next request, ASVS 8.3.2), and a poll every
`access_refresh_seconds` (0.5 s) picks up what other replicas committed, the
blocked accounts and the ended sessions (IDN-03). A check then costs no
database round trip.
"""
from __future__ import annotations

import asyncio
import logging
import uuid

import sqlalchemy as sa
from manager_shared.access_check import Decision, OrgAccess, decide
from manager_shared.background import cancel_and_wait
from manager_shared.db import Database
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class AccessMemory:
    def __init__(self, db: Database, access_table: sa.Table, blocked_table: sa.Table, *,
                 ended_table: sa.Table | None = None, interval: float = 0.25) -> None:
        self.db, self.table, self.blocked_table, self.interval = db, access_table, blocked_table, interval
        self.ended_table = ended_table
        self.orgs: dict[uuid.UUID, OrgAccess] = {}
        self.blocked: frozenset[uuid.UUID] = frozenset()
        # sids of ended sessions (few: rows are purged once their tokens expired)
        self.ended: frozenset[uuid.UUID] = frozenset()
        self.info_key = f"org_access_written_{id(self)}"
        self._task: asyncio.Task | None = None
        self._fingerprint: tuple | None = None

        class _Session(Session):  # this database's sessions only: the hook sees no one else's commits
            pass

        db.sessions.kw["sync_session_class"] = _Session
        sa_event.listen(_Session, "after_commit", self._after_commit)

    def written(self, session, state: OrgAccess) -> None:
        """Core.emit: `state` is committed with `session`'s transaction."""
        session.info.setdefault(self.info_key, {})[state.organization_id] = state

    def _after_commit(self, sync_session) -> None:
        for organization_id, state in sync_session.info.pop(self.info_key, {}).items():
            current = self.orgs.get(organization_id)
            if current is None or state.version >= current.version:
                self.orgs[organization_id] = state

    def check(self, account_id: uuid.UUID, organization_id: uuid.UUID, action: str,
              product_id: uuid.UUID | None = None, *, channel: str = "web") -> Decision:
        return decide(self.orgs.get(organization_id), account_id, action, product_id, channel=channel,
                      blocked=account_id in self.blocked)

    async def refresh(self) -> None:
        """Load organizations whose version moved (other replicas, start-up)
        and the set of blocked accounts."""
        t, b = self.table, self.blocked_table
        async with self.db.engine.connect() as conn:
            # versions only grow: unchanged sums mean nothing to load (one small row per poll)
            fingerprint = tuple((await conn.execute(sa.select(
                sa.select(sa.func.coalesce(sa.func.sum(t.c.version), 0)).scalar_subquery(),
                sa.select(sa.func.count()).select_from(t).scalar_subquery(),
                sa.select(sa.func.coalesce(sa.func.sum(b.c.version), 0)).scalar_subquery(),
                *self._ended_fingerprint()))).one())
            if fingerprint == self._fingerprint:
                return
            versions = (await conn.execute(sa.select(t.c.organization_id, t.c.version))).all()
            stale = [org for org, version in versions
                     if org not in self.orgs or self.orgs[org].version < version]
            for i in range(0, len(stale), 500):
                rows = await conn.execute(sa.select(t.c.organization_id, t.c.doc).where(
                    t.c.organization_id.in_(stale[i:i + 500])))
                for org, doc in rows.all():
                    state = OrgAccess.from_doc(org, doc)
                    current = self.orgs.get(org)
                    if current is None or state.version >= current.version:
                        self.orgs[org] = state
            self.blocked = frozenset((await conn.execute(
                sa.select(b.c.account_id).where(b.c.blocked.is_(True)))).scalars())
            if self.ended_table is not None:
                self.ended = frozenset((await conn.execute(sa.select(self.ended_table.c.session_id))).scalars())
            self._fingerprint = fingerprint

    def _ended_fingerprint(self) -> list:
        """Rows are only inserted (ended_at rising) or purged: count and
        latest ended_at change with either."""
        e = self.ended_table
        if e is None:
            return []
        return [sa.select(sa.func.count()).select_from(e).scalar_subquery(),
                sa.select(sa.func.max(e.c.ended_at)).scalar_subquery()]

    def session_ended(self, session_id: str) -> bool:
        try:
            return uuid.UUID(session_id) in self.ended
        except ValueError:  # identity issues only UUIDs
            return False

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # a poll failing must not stop the next one
                log.warning("access memory refresh failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
