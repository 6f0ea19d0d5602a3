"""BIL-02, the prepaid ledger's rules one by one (billing.prepaid.ledger), on
an in-process SQLite database holding only the ledger's tables: fast enough
to run once per mutant (`./manager mutate`, X-03)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from billing.models import Base, BillingAccount
from billing.prepaid import ledger
from billing.prepaid.errors import CurrencyMismatch, InsufficientPrepaidBalance
from billing.prepaid.models import LedgerEntry, PrepaidAccount
from manager_shared.db import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TABLES = [BillingAccount.__table__, PrepaidAccount.__table__, LedgerEntry.__table__]


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/ledger.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=TABLES))
    yield database
    await database.dispose()


async def open_account(db: Database, currency: str) -> uuid.UUID:
    org = uuid.uuid4()
    async with db.transaction() as s:
        s.add(BillingAccount(organization_id=org, organization_name="Muster AG", currency=currency, created_at=NOW))
    return org


async def move(s, org, amount: int, currency: str = "CHF", kind: str = "top_up", **kw):
    return await ledger.move(s, org, amount, currency, kind=kind, cause=kw.get("cause", "c"),
                             reference=kw.get("reference", "r"), now=NOW)


async def stored_entries(db: Database, org) -> list[tuple[int, int, int]]:
    async with db.transaction() as s:
        rows = (await s.execute(sa.select(LedgerEntry.seq, LedgerEntry.amount_minor, LedgerEntry.balance_after_minor)
                                .where(LedgerEntry.organization_id == org).order_by(LedgerEntry.seq))).all()
    return [tuple(r) for r in rows]


async def test_bil_02_an_account_never_topped_up_has_0_in_its_billing_currency(db):
    eur, chf = await open_account(db, "EUR"), await open_account(db, "CHF")
    async with db.transaction() as s:
        assert await ledger.balance(s, eur) == (0, "EUR")
        assert await ledger.balance(s, chf) == (0, "CHF")
        assert await ledger.balance(s, uuid.uuid4()) == (0, "CHF")  # no billing account (yet): CHF
        assert await ledger.account_currency(s, eur) == "EUR"
        assert await ledger.ledger_sum(s, eur) == 0


async def test_bil_02_credits_and_debits_number_entries_and_keep_the_running_balance(db):
    org, other = await open_account(db, "CHF"), await open_account(db, "CHF")
    async with db.transaction() as s:
        first = await move(s, org, 500)
        assert (first.seq, first.amount_minor, first.balance_after_minor, first.currency) == (1, 500, 500, "CHF")
        # the entry is written at once (flushed in the caller's transaction), not only at commit
        conn = await s.connection()
        assert (await conn.execute(sa.select(sa.func.count()).select_from(LedgerEntry.__table__))).scalar_one() == 1
        await move(s, other, 9_000)
        second = await move(s, org, -200, kind="payment")
        third = await move(s, org, 1_000, kind="refund")
    assert (second.seq, second.balance_after_minor, third.seq, third.balance_after_minor) == (2, 300, 3, 1_300)
    assert await stored_entries(db, org) == [(1, 500, 500), (2, -200, 300), (3, 1_000, 1_300)]
    assert await stored_entries(db, other) == [(1, 9_000, 9_000)]
    async with db.transaction() as s:
        assert await ledger.balance(s, org) == (1_300, "CHF")
        assert await ledger.balance(s, other) == (9_000, "CHF")
        assert await ledger.ledger_sum(s, org) == 1_300
        assert await ledger.ledger_sum(s, other) == 9_000
        account = await s.get(PrepaidAccount, org)
        assert (account.balance_minor, account.entries, account.updated_at) == (1_300, 3, NOW)


async def test_bil_02_a_first_credit_of_one_centime_opens_the_account(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        entry = await move(s, org, 1)
    assert (entry.seq, entry.balance_after_minor) == (1, 1)


async def test_bil_02_a_debit_may_empty_the_account_but_not_go_below_zero(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        await move(s, org, 1_000)
    with pytest.raises(InsufficientPrepaidBalance) as refused:
        async with db.transaction() as s:
            await move(s, org, -1_001, kind="payment")
    assert refused.value.details == {"balance_minor": 1_000, "currency": "CHF"}
    async with db.transaction() as s:
        emptied = await move(s, org, -1_000, kind="withdrawal")
    assert (emptied.seq, emptied.balance_after_minor) == (2, 0)
    assert await stored_entries(db, org) == [(1, 1_000, 1_000), (2, -1_000, 0)]


async def test_bil_02_a_debit_of_a_fresh_account_is_refused_without_opening_it(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        with pytest.raises(InsufficientPrepaidBalance) as refused:
            await move(s, org, -100, "EUR", kind="payment")
        # in the same transaction: no account row was made for the refused debit
        assert await s.get(PrepaidAccount, org) is None
        assert await ledger.balance(s, org) == (0, "CHF")
    assert refused.value.details == {"balance_minor": 0, "currency": "CHF"}


async def test_bil_02_zero_is_not_a_movement(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        with pytest.raises(ValueError):
            await move(s, org, 0)
        assert await s.get(PrepaidAccount, org) is None


async def test_bil_02_an_account_with_money_keeps_its_currency_an_empty_one_may_change(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        await move(s, org, 100)
        await move(s, org, 50)  # the same currency again
    with pytest.raises(CurrencyMismatch) as mismatch:
        async with db.transaction() as s:
            await move(s, org, 100, "EUR")
    assert mismatch.value.details == {"currency": "CHF"}
    with pytest.raises(CurrencyMismatch):
        async with db.transaction() as s:
            await move(s, org, -100, "EUR", kind="payment")
    async with db.transaction() as s:
        await move(s, org, -150, kind="withdrawal")
        moved = await move(s, org, 70, "EUR")  # empty: the organization moved to the euro (ORG-12)
    assert (moved.currency, moved.balance_after_minor, moved.seq) == ("EUR", 70, 4)
    async with db.transaction() as s:
        assert await ledger.balance(s, org) == (70, "EUR")


async def test_bil_02_cause_and_reference_are_cut_to_their_columns(db):
    org = await open_account(db, "CHF")
    async with db.transaction() as s:
        entry = await move(s, org, 100, cause="c" * 300, reference="r" * 300)
    assert (entry.cause, entry.reference) == ("c" * 200, "r" * 200)
    async with db.transaction() as s:
        short = await move(s, org, 100, cause="why", reference="what")
    assert (short.cause, short.reference) == ("why", "what")


async def test_bil_02_entries_newest_first_paged_by_seq(db):
    org, other = await open_account(db, "CHF"), await open_account(db, "CHF")
    async with db.transaction() as s:
        for amount in (100, 200, 300, 400):
            await move(s, org, amount)
        await move(s, other, 999)
        page = await ledger.entries(s, org, limit=2)
        rest = await ledger.entries(s, org, limit=10, before_seq=page[-1].seq)
        everything = await ledger.entries(s, org, limit=10)
    assert [e.amount_minor for e in page] == [400, 300]
    assert [e.amount_minor for e in rest] == [200, 100]
    assert [e.seq for e in everything] == [4, 3, 2, 1]


class _Recorder:
    """A session that records the statements it is given and finds one account row."""

    class Row:
        balance_minor, currency = 42, "CHF"

    def __init__(self) -> None:
        self.statements: list = []

    async def execute(self, statement):
        self.statements.append(statement)
        return self

    def first(self):
        return self.Row()

    def sql(self) -> str:
        return str(self.statements[0].compile(dialect=postgresql.dialect()))


async def test_bil_02_balance_locks_the_account_row_only_when_asked():
    """A read of the balance must not queue behind payments; a movement's read locks (PostgreSQL)."""
    for options, locked in (({}, False), ({"lock": False}, False), ({"lock": True}, True)):
        session = _Recorder()
        assert await ledger.balance(session, uuid.uuid4(), **options) == (42, "CHF")
        assert ("FOR UPDATE" in session.sql()) is locked
