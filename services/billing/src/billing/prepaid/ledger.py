"""The prepaid ledger (BIL-02): every movement is one conditional UPDATE of
the account row plus one immutable entry, in the caller's transaction.

The UPDATE is the per-account lock: on PostgreSQL it row-locks the account
until commit (concurrent movements queue there, as SELECT … FOR UPDATE
would, but without a read-then-write window); on SQLite it is the unit of
work's first write, which takes the database's one write lock. Its WHERE
refuses a debit below zero, so the balance never goes negative whatever the
interleaving; the CHECK constraint is the last guard."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import insert_if_absent

from ..models import BillingAccount
from .errors import CurrencyMismatch, InsufficientPrepaidBalance
from .models import LedgerEntry, PrepaidAccount

ACCOUNT = PrepaidAccount.__table__
CREDIT_KINDS = frozenset({"top_up", "refund", "adjustment"})
DEBIT_KINDS = frozenset({"payment", "withdrawal", "adjustment"})


async def balance(session: AsyncSession, organization_id: uuid.UUID, *, lock: bool = False) -> tuple[int, str]:
    """(balance_minor, currency); an account never topped up has 0 in the
    billing account's currency. `lock` row-locks it on PostgreSQL."""
    query = sa.select(ACCOUNT.c.balance_minor, ACCOUNT.c.currency).where(ACCOUNT.c.organization_id == organization_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is not None:
        return int(row.balance_minor), row.currency
    return 0, await account_currency(session, organization_id)


async def account_currency(session: AsyncSession, organization_id: uuid.UUID) -> str:
    currency = (await session.execute(sa.select(BillingAccount.currency).where(
        BillingAccount.organization_id == organization_id))).scalar_one_or_none()
    return currency or "CHF"


async def move(session: AsyncSession, organization_id: uuid.UUID, amount_minor: int, currency: str, *,
               kind: str, cause: str, reference: str, now: datetime) -> LedgerEntry:
    """Add `amount_minor` (negative: a debit) to the balance and write its entry."""
    if amount_minor == 0:
        raise ValueError("a ledger entry moves money")
    if amount_minor > 0:
        await insert_if_absent(session, ACCOUNT, {"organization_id": organization_id, "currency": currency,
                                                  "balance_minor": 0, "entries": 0, "updated_at": now})
    new_balance = ACCOUNT.c.balance_minor + amount_minor
    # An empty account may change currency (the organization moved: ORG-12); one with money may not.
    same_currency = sa.or_(ACCOUNT.c.currency == currency, ACCOUNT.c.balance_minor == 0)
    row = (await session.execute(
        sa.update(ACCOUNT)
        .where(ACCOUNT.c.organization_id == organization_id, same_currency, new_balance >= 0)
        .values(balance_minor=new_balance, entries=ACCOUNT.c.entries + 1, currency=currency, updated_at=now)
        .returning(ACCOUNT.c.balance_minor, ACCOUNT.c.entries))).first()
    if row is None:
        held, held_currency = await balance(session, organization_id)
        if held and held_currency != currency:
            raise CurrencyMismatch(currency=held_currency)
        raise InsufficientPrepaidBalance(balance_minor=held, currency=held_currency)
    entry = LedgerEntry(organization_id=organization_id, seq=row.entries, kind=kind, amount_minor=amount_minor,
                        currency=currency, balance_after_minor=int(row.balance_minor), cause=cause[:200],
                        reference=reference[:200], created_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, organization_id: uuid.UUID, *, limit: int,
                  before_seq: int | None = None) -> list[LedgerEntry]:
    """Newest first; the next page starts before the last `seq` returned."""
    query = sa.select(LedgerEntry).where(LedgerEntry.organization_id == organization_id)
    if before_seq is not None:
        query = query.where(LedgerEntry.seq < before_seq)
    return list((await session.execute(query.order_by(LedgerEntry.seq.desc()).limit(limit))).scalars())


async def ledger_sum(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """The sum of every entry: always equal to the balance (tests and audits)."""
    return int((await session.execute(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0)).where(
        LedgerEntry.organization_id == organization_id))).scalar_one())
