"""Local projections of organizations' events, kept by every service that
must decide who may act on an organization's data (ORG-09): memberships (a
row per member) and the organization's whole access state (a JSON document
per organization, read by the pure check in `access_check`).

The tables live in the consuming service's own database; only their shape and
the upserts are shared, so no service ever reads another's tables.
"""
from __future__ import annotations

import asyncio
import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .access_check import Decision, OrgAccess, decide
from .metrics import PROJECTION_EARLY_EVENTS, PROJECTION_GAP_WAITING
from .db import UtcDateTime
from .events import (AccountBlocked, AccountUnblocked, Event, MemberAdded, MemberRemoved, MemberRoleChanged,
                     OrganizationDeleted)

log = logging.getLogger(__name__)

# A removed member keeps a row with this role, so a late MemberAdded cannot bring it back.
REMOVED = "removed"


def membership_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "org_member", metadata,
        sa.Column("organization_id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, primary_key=True, index=True),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        # org_version of the event that set the role (0: an unnumbered event, ordered by time)
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    )


class Memberships:
    """Reads and updates one service's membership projection."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def apply(self, session: AsyncSession,
                    event: MemberAdded | MemberRoleChanged | MemberRemoved | OrganizationDeleted) -> None:
        """Upsert from membership events; an older event never overwrites a
        newer one (by org_version, else by time), in whatever order they arrive."""
        t, version = self.table, getattr(event, "org_version", 0)
        if isinstance(event, OrganizationDeleted):
            await session.execute(t.update().where(t.c.organization_id == event.organization_id)
                                  .values(role=REMOVED, changed_at=event.occurred_at, version=version))
            return
        role = REMOVED if isinstance(event, MemberRemoved) else event.role
        current = (await session.execute(sa.select(t.c.changed_at, t.c.version).where(
            t.c.organization_id == event.organization_id, t.c.account_id == event.account_id))).first()
        if current is None:
            await session.execute(t.insert().values(organization_id=event.organization_id,
                                                    account_id=event.account_id, role=role,
                                                    changed_at=event.occurred_at, version=version))
            return
        newer = version > current.version if version and current.version else event.occurred_at >= current.changed_at
        if newer:
            await session.execute(t.update().where(
                t.c.organization_id == event.organization_id, t.c.account_id == event.account_id,
            ).values(role=role, changed_at=event.occurred_at, version=max(version, current.version)))

    async def role_of(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> str | None:
        t = self.table
        row = (await session.execute(sa.select(t.c.role).where(
            t.c.organization_id == organization_id, t.c.account_id == account_id))).first()
        return row.role if row and row.role != REMOVED else None


def org_access_table(metadata: sa.MetaData) -> sa.Table:
    """Projection of each organization's access state (ORG-09): the document
    of `access_check.OrgAccess` and the org_version it reflects."""
    return sa.Table(
        "org_access", metadata,
        sa.Column("organization_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )


class OrgAccessStore:
    """Reads, updates and checks one service's access projection. Parsed
    documents are cached by their text; every check still reads the row, so a
    rights change counts from the moment its event is applied (ASVS 8.3.2)."""

    def __init__(self, table: sa.Table, blocked: BlockedAccounts | None = None, cache_size: int = 4096) -> None:
        self.table, self.blocked, self.cache_size = table, blocked, cache_size
        self._cache: dict[uuid.UUID, tuple[str, OrgAccess]] = {}

    async def load(self, session: AsyncSession, organization_id: uuid.UUID, *,
                   for_update: bool = False) -> OrgAccess | None:
        t = self.table
        query = sa.select(t.c.version, t.c.doc).where(t.c.organization_id == organization_id)
        row = (await session.execute(query.with_for_update() if for_update else query)).first()
        if row is None:
            return None
        if for_update:  # the caller changes it: never hand out the shared cached copy
            return OrgAccess.from_doc(organization_id, row.doc)
        return self._parsed(organization_id, row.doc)

    async def apply(self, session: AsyncSession, event: Event) -> bool:
        """Apply one of organizations' events to the organization's document."""
        organization_id = event.organization_id
        org = await self.load(session, organization_id, for_update=True)
        fresh = org is None
        org = org or OrgAccess(organization_id)
        held = len(org.pending)
        if not org.apply(event):
            return False
        if len(org.pending) > held:  # ahead of an earlier version: kept, applied when the gap fills
            PROJECTION_EARLY_EVENTS.labels("org_access").inc()
            log.warning("org_access %s: %s (version %s) held, waiting for version %s (%d held)", organization_id,
                        event.type, getattr(event, "org_version", "?"), org.missing_version(), len(org.pending))
        elif held:
            log.info("org_access %s: gap filled, %d held event(s) applied", organization_id, held - len(org.pending))
        await self.save(session, org, insert=fresh)
        return True

    async def save(self, session: AsyncSession, org: OrgAccess, *, insert: bool) -> None:
        t = self.table
        if insert:
            await session.execute(t.insert().values(organization_id=org.organization_id, version=org.version,
                                                    doc=org.to_doc()))
        else:
            await session.execute(t.update().where(t.c.organization_id == org.organization_id)
                                  .values(version=org.version, doc=org.to_doc()))

    async def open_gaps(self, session: AsyncSession) -> list[tuple[uuid.UUID, int, int]]:
        """Organizations holding events that wait for an earlier version: (id, missing version, held)."""
        t = self.table
        rows = await session.execute(sa.select(t.c.organization_id, t.c.doc).where(t.c.doc.like('%"pend":%')))
        gaps = [(org_id, OrgAccess.from_doc(org_id, doc)) for org_id, doc in rows]
        return [(org_id, org.missing_version(), len(org.pending)) for org_id, org in gaps if org.pending]

    async def watch_gaps(self, db, interval: float = 60.0) -> None:
        """Every `interval`, log and measure the gaps still open: an event that
        never arrives would otherwise hold the later ones back unseen."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with db.transaction() as session:
                    gaps = await self.open_gaps(session)
            except Exception as exc:  # the database may be down; try again next round
                log.info("org_access: gaps not checked (%s)", type(exc).__name__)
                continue
            PROJECTION_GAP_WAITING.labels("org_access").set(sum(held for _, _, held in gaps))
            for org_id, missing, held in gaps[:20]:
                log.warning("org_access %s: %d event(s) still wait for version %d", org_id, held, missing)

    def _parsed(self, organization_id: uuid.UUID, doc: str | None) -> OrgAccess | None:
        if doc is None:
            return None
        cached = self._cache.get(organization_id)
        if cached is not None and cached[0] == doc:
            return cached[1]
        org = OrgAccess.from_doc(organization_id, doc)
        if len(self._cache) >= self.cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[organization_id] = (doc, org)
        return org

    async def check_in_one_read(self, conn: AsyncConnection, account_id: uuid.UUID, organization_id: uuid.UUID,
                                action: str, product_id: uuid.UUID | None = None, *,
                                channel: str = "web") -> Decision:
        """The same check with the organization's state and the account's
        block status fetched in one statement (the hot path of an HTTP check)."""
        return (await self.check_and_read(conn, account_id, organization_id, action, product_id,
                                          channel=channel))[0]

    async def check_and_read(self, conn: AsyncConnection, account_id: uuid.UUID, organization_id: uuid.UUID,
                             action: str, product_id: uuid.UUID | None = None, *, channel: str = "web",
                             extra: sa.ColumnElement | None = None) -> tuple[Decision, object]:
        """`check_in_one_read`, plus the value of a caller's scalar expression
        (say, whether its own row for the organization exists) read in the
        same statement: one round trip for the whole guard of a request."""
        doc = sa.select(self.table.c.doc).where(self.table.c.organization_id == organization_id).scalar_subquery()
        columns = [doc.label("doc")]
        if self.blocked is not None:
            b = self.blocked.table
            columns.append(sa.select(b.c.blocked).where(b.c.account_id == account_id).scalar_subquery().label("b"))
        if extra is not None:
            columns.append(extra.label("extra"))
        row = (await conn.execute(sa.select(*columns))).one()
        blocked = bool(row.b) if self.blocked is not None else False
        decision = decide(self._parsed(organization_id, row.doc), account_id, action, product_id, channel=channel,
                          blocked=blocked)
        return decision, (row.extra if extra is not None else None)

    async def check(self, session: AsyncSession, account_id: uuid.UUID, organization_id: uuid.UUID, action: str,
                    product_id: uuid.UUID | None = None, *, channel: str = "web") -> Decision:
        """ORG-09 from this service's own projection: no call to organizations."""
        blocked = self.blocked is not None and await self.blocked.is_blocked(session, account_id)
        return decide(await self.load(session, organization_id), account_id, action, product_id,
                      channel=channel, blocked=blocked)


def blocked_accounts_table(metadata: sa.MetaData) -> sa.Table:
    """Projection of identity's block/unblock events (IDN-18), one row per
    account ever blocked; `version` is the highest account_version applied."""
    return sa.Table(
        "blocked_account", metadata,
        sa.Column("account_id", sa.Uuid, primary_key=True),
        sa.Column("blocked", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


class BlockedAccounts:
    """Every service keeps it, so a blocked account's tokens stop working
    everywhere as soon as the event is consumed (no call to identity)."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def apply(self, session: AsyncSession, event: AccountBlocked | AccountUnblocked) -> None:
        t, blocked = self.table, isinstance(event, AccountBlocked)
        row = (await session.execute(sa.select(t.c.version).where(t.c.account_id == event.account_id))).first()
        if row is None:
            await session.execute(t.insert().values(account_id=event.account_id, blocked=blocked,
                                                    version=event.account_version))
        elif event.account_version > row.version:
            await session.execute(t.update().where(t.c.account_id == event.account_id)
                                  .values(blocked=blocked, version=event.account_version))

    async def is_blocked(self, session: AsyncSession, account_id: uuid.UUID) -> bool:
        row = (await session.execute(sa.select(self.table.c.blocked).where(
            self.table.c.account_id == account_id))).first()
        return bool(row and row.blocked)
