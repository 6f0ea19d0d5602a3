"""notifications' queries."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .models import CANCELLED, FAILED, PENDING, Message, Organization, OrganizationMember, Product, Recipient


def _insert(session: AsyncSession, model):  # a model or a table
    """INSERT with ON CONFLICT support, in the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


# Hot paths (every event, every delivery) use Core statements on the tables:
# the ORM's identity map and bulk machinery cost more than the SQL itself.
_recipients = Recipient.__table__
_messages = Message.__table__


_RECIPIENT = sa.select(_recipients).where(_recipients.c.account_id == sa.bindparam("account_id"))
# One statement per dialect, built once: only the parameters change per message.
_ADD_MESSAGE = {name: dialect.insert(_messages).on_conflict_do_nothing(index_elements=["event_id", "recipient",
                                                                                        "channel"])
                for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


_RECIPIENTS = sa.select(_recipients).where(_recipients.c.account_id.in_(sa.bindparam("ids", expanding=True)))


async def recipients(session: AsyncSession, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    """Contact rows of several accounts in one query."""
    rows = await (await session.connection()).execute(_RECIPIENTS, {"ids": list(account_ids)})
    return {row.account_id: row for row in rows}


def add_messages(connection: sa.Connection, rows: list[dict]) -> None:
    """Queue messages in one statement (a synchronous connection: this runs
    in the session's before-commit hook); rows this event already made are
    skipped by the unique key (NTF-04)."""
    statement = _ADD_MESSAGE["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    connection.execute(statement, rows)


async def recipient(session: AsyncSession, account_id: uuid.UUID) -> sa.Row | None:
    """The account's contact row (attributes as on Recipient), or None."""
    return (await (await session.connection()).execute(_RECIPIENT, {"account_id": account_id})).first()


async def recipient_by_email(session: AsyncSession, address: str) -> sa.Row | None:
    query = sa.select(_recipients).where(sa.func.lower(_recipients.c.email) == address.strip().lower()).limit(1)
    return (await session.execute(query)).first()


async def upsert_recipient(session: AsyncSession, values: dict) -> None:
    """Insert or update the projection, only ever moving to a higher version."""
    stmt = _insert(session, Recipient).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Recipient.account_id],
        set_={k: stmt.excluded[k] for k in values if k != "account_id"},
        where=Recipient.version < stmt.excluded.version)
    await session.execute(stmt)


async def update_recipient(session: AsyncSession, account_id: uuid.UUID, version: int, values: dict) -> None:
    """Apply a change of a known recipient, only ever moving to a higher version."""
    await session.execute(sa.update(Recipient).where(Recipient.account_id == account_id, Recipient.version < version)
                          .values(version=version, **values))


async def organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.get(Organization, organization_id)


async def upsert_organization(session: AsyncSession, organization_id: uuid.UUID, name: str, now: datetime) -> None:
    stmt = _insert(session, Organization).values(organization_id=organization_id, name=name, updated_at=now)
    await session.execute(stmt.on_conflict_do_update(index_elements=[Organization.organization_id],
                                                     set_={"name": name, "updated_at": now}))


async def delete_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await session.execute(sa.delete(OrganizationMember).where(OrganizationMember.organization_id == organization_id))
    await session.execute(sa.delete(Product).where(Product.organization_id == organization_id))
    await session.execute(sa.delete(Organization).where(Organization.organization_id == organization_id))


async def upsert_product(session: AsyncSession, product_id: uuid.UUID, organization_id: uuid.UUID, name: str,
                         now: datetime) -> None:
    stmt = _insert(session, Product).values(product_id=product_id, organization_id=organization_id, name=name,
                                            updated_at=now)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[Product.product_id], set_={"organization_id": organization_id, "name": name,
                                                   "updated_at": now}))


async def delete_product(session: AsyncSession, product_id: uuid.UUID) -> None:
    await session.execute(sa.delete(Product).where(Product.product_id == product_id))


async def product_name(session: AsyncSession, product_id: uuid.UUID) -> str | None:
    return (await session.execute(sa.select(Product.name).where(Product.product_id == product_id))).scalar()


UNKNOWN_ROLE, REMOVED_ROLE = "", "removed"  # a row known only from a 2FA change / a member who left


async def upsert_member(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, role: str | None,
                        now: datetime, two_factor: bool | None = None, version: int = 0,
                        accounting: bool | None = None) -> None:
    """Set the member's role, 2FA status and/or accounting right as of the
    event's org_version: each field changes only for a newer version than the
    one that set it, so an event arriving ahead of an earlier one (or a
    replay) cannot be undone by it (X-02). Version 0 (an unnumbered event)
    always applies. None = the event does not say (the field is left alone)."""
    m = OrganizationMember
    given = {"role": role, "two_factor": two_factor, "accounting": accounting}
    defaults = {"role": UNKNOWN_ROLE, "two_factor": False, "accounting": False}
    stmt = _insert(session, m).values(
        organization_id=organization_id, account_id=account_id, updated_at=now,
        **{f: defaults[f] if v is None else v for f, v in given.items()},
        **{f"{f}_version": version if v is not None else 0 for f, v in given.items()})
    updates = {"updated_at": now}
    for field, value in given.items():
        if value is None:
            continue
        held = getattr(m, f"{field}_version")
        wins = held < version if version else sa.true()
        updates[field] = sa.case((wins, getattr(stmt.excluded, field)), else_=getattr(m, field))
        updates[f"{field}_version"] = sa.case((wins, version), else_=held) if version else held
    await session.execute(stmt.on_conflict_do_update(index_elements=[m.organization_id, m.account_id],
                                                     set_=updates))


async def set_member_two_factor(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID,
                                enabled: bool, now: datetime, version: int = 0) -> None:
    await upsert_member(session, organization_id, account_id, None, now, enabled, version)


async def remove_member(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID,
                        now: datetime, version: int = 0) -> None:
    """Kept as a "removed" row, so a late MemberAdded cannot bring the member back."""
    await upsert_member(session, organization_id, account_id, REMOVED_ROLE, now, None, version)


async def member_ids(session: AsyncSession, organization_id: uuid.UUID, roles: Iterable[str] | None = None,
                     two_factor: bool | None = None) -> list[uuid.UUID]:
    query = sa.select(OrganizationMember.account_id).where(
        OrganizationMember.organization_id == organization_id,
        OrganizationMember.role.not_in((UNKNOWN_ROLE, REMOVED_ROLE)))
    if roles is not None:
        query = query.where(OrganizationMember.role.in_(sorted(roles)))
    if two_factor is not None:
        query = query.where(OrganizationMember.two_factor == two_factor)
    return list((await session.execute(query.order_by(OrganizationMember.account_id))).scalars())


async def billing_contact_ids(session: AsyncSession, organization_id: uuid.UUID,
                              managing_roles: Iterable[str]) -> list[uuid.UUID]:
    """Who hears about the organization's money: those who run it, and members
    with the accounting right (ORG-08), as the projection stands now."""
    m = OrganizationMember
    query = sa.select(m.account_id).where(
        m.organization_id == organization_id, m.role.not_in((UNKNOWN_ROLE, REMOVED_ROLE)),
        sa.or_(m.role.in_(sorted(managing_roles)), m.accounting.is_(True)))
    return list((await session.execute(query.order_by(m.account_id))).scalars())


async def role_of(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> str | None:
    found = await session.get(OrganizationMember, (organization_id, account_id))
    return found.role if found and found.role not in (UNKNOWN_ROLE, REMOVED_ROLE) else None


async def add_message(session: AsyncSession, values: dict) -> bool:
    """Queue a message; False if this event already made it (NTF-04)."""
    connection = await session.connection()  # Core, not the ORM's execute: this runs for every message
    statement = _ADD_MESSAGE["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    return (await connection.execute(statement, values)).rowcount == 1


async def cancel_unsent(session: AsyncSession, ref: str, now: datetime) -> int:
    """Cancel the not yet sent messages about `ref` (reminders whose matter is settled)."""
    result = await session.execute(
        sa.update(Message).where(Message.ref == ref, Message.status.in_((PENDING, FAILED)))
        .values(status=CANCELLED, next_attempt_at=now).execution_options(synchronize_session=False))
    return result.rowcount


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
    """Take up to `limit` due messages for this worker until `lease_until`.

    FOR UPDATE SKIP LOCKED lets replicas claim side by side (PostgreSQL); the
    rows are picked in a CTE, which PostgreSQL runs exactly once (a locking
    subquery inside `IN (...)` may be planned as a subplan run again and
    again: slow with many due rows, and not the queue pattern to trust). The
    repeated conditions make the UPDATE a compare-and-set, which is what keeps
    SQLite (no row locks) from handing one message to two workers.
    """
    due = (Message.status.in_((PENDING, FAILED)), Message.next_attempt_at <= now)
    picked = (sa.select(Message.id).where(*due).order_by(Message.next_attempt_at, Message.id)
              .limit(limit).with_for_update(skip_locked=True).cte("picked"))
    stmt = (sa.update(Message).where(Message.id.in_(sa.select(picked.c.id)), *due)
            .values(next_attempt_at=lease_until, attempts=Message.attempts + 1)
            .returning(Message).execution_options(synchronize_session=False))
    rows = (await session.execute(stmt)).scalars().all()
    return sorted(rows, key=lambda m: m.id)


async def release(session: AsyncSession, message_ids: list[int], now: datetime) -> None:
    """Give back claimed messages that were not tried: due now, attempt not counted."""
    await session.execute(sa.update(Message).where(Message.id.in_(message_ids))
                          .values(next_attempt_at=now, attempts=Message.attempts - 1)
                          .execution_options(synchronize_session=False))


async def update_messages(session: AsyncSession, changes: list[dict]) -> None:
    """Apply `{"id": ..., column: value...}` changes; one executemany per set of columns."""
    groups: dict[tuple, list[dict]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(k for k in change if k != "id")), []).append(
            {f"v_{k}": v for k, v in change.items()})
    for columns, rows in groups.items():
        stmt = sa.update(_messages).where(_messages.c.id == sa.bindparam("v_id")).values(
            {c: sa.bindparam(f"v_{c}") for c in columns})
        await (await session.connection()).execute(stmt, rows)


async def messages_of(session: AsyncSession, account_id: uuid.UUID | None, limit: int, before: int | None = None,
                      organization_id: uuid.UUID | None = None) -> Sequence[Message]:
    """An account's (or an organization's) messages, newest first, paged by id."""
    query = select(Message).where(Message.organization_id == organization_id if organization_id
                                  else Message.account_id == account_id)
    if before is not None:
        query = query.where(Message.id < before)
    return (await session.execute(query.order_by(Message.id.desc()).limit(limit))).scalars().all()


async def message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)
