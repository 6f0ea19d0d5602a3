"""Gap-free numbers per yearly series (BIL-06, BIL-07).

A number is taken from the series' counter row in the caller's transaction:
the row is created if missing (INSERT ... ON CONFLICT DO NOTHING), then
incremented with UPDATE ... RETURNING, which row-locks it on PostgreSQL (and
runs under SQLite's single writer lock) until the transaction ends. A rolled
back finalisation gives its number back with it; a committed one is never
given again. Not a database sequence: sequences skip values on rollback.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.db import insert_if_absent

DIGITS = 6
# kind → the series prefix before the year ("" for invoices: 2026-000001)
PREFIXES = {"invoice": "", "credit_note": "CN-", "proforma": "PF-"}


def series_for(kind: str, year: int) -> str:
    """The series a document of `kind` issued in `year` is numbered in."""
    return f"{PREFIXES[kind]}{year:04d}"


def format_number(series: str, value: int) -> str:
    """`2026`, 1 → `2026-000001`; more than DIGITS digits simply grow."""
    if value < 1:
        raise ValueError("numbers start at 1")
    return f"{series}-{value:0{DIGITS}d}"


def sequence_of(number: str) -> int:
    """`2026-000042` → 42 (the counter value a number was made from)."""
    return int(number.rsplit("-", 1)[1])


async def take(session: AsyncSession, table: sa.Table, series: str) -> int:
    """The next value of `series`, reserved in the caller's transaction."""
    await insert_if_absent(session, table, {"series": series, "last_value": 0})
    result = await session.execute(
        table.update().where(table.c.series == series).values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value))
    return int(result.scalar_one())


async def next_number(session: AsyncSession, table: sa.Table, kind: str, year: int) -> str:
    series = series_for(kind, year)
    return format_number(series, await take(session, table, series))
