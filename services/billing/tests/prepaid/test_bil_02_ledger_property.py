"""BIL-02 as a property: whatever sequence of top-ups, payments, refunds,
withdrawals, refused debits and aborted units of work runs, the balance equals the sum of the
ledger's entries and never goes below zero; a refused debit changes nothing."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.main import MIGRATIONS
from billing.models import BillingAccount
from billing.prepaid import ledger
from billing.prepaid.errors import InsufficientPrepaidBalance
from billing.prepaid.models import LedgerEntry
from billing.prepaid.service import Prepaid
from billing.models import outbox_table
from manager_shared.clock import FrozenClock
from manager_shared.db import Database, migrate
from manager_shared.outbox import Outbox

OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["top_up", "refund", "adjustment+", "payment", "withdrawal", "adjustment-", "aborted"]),
    st.integers(min_value=1, max_value=50_000)), min_size=1, max_size=25)


@pytest.fixture(scope="module")
def loop_and_db(tmp_path_factory):
    loop = asyncio.new_event_loop()
    db = Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ledger')}/billing.db")
    loop.run_until_complete(migrate(db, MIGRATIONS))
    yield loop, db
    loop.run_until_complete(db.dispose())
    loop.close()


async def run(db: Database, operations: list[tuple[str, int]]) -> None:
    prepaid, org = Prepaid(outbox=Outbox(outbox_table), clock=FrozenClock()), uuid.uuid4()
    async with db.transaction() as s:
        s.add(BillingAccount(organization_id=org, organization_name="P", currency="CHF",
                             created_at=FrozenClock().now()))
    expected = 0
    for kind, amount in operations:
        if kind == "aborted":  # a unit of work that fails after moving money leaves nothing behind
            with pytest.raises(RuntimeError):
                async with db.transaction() as s:
                    await prepaid.credit(s, org, amount, "CHF", kind="top_up", cause="aborted", reference="x")
                    raise RuntimeError("crash after the credit")
            continue
        credit = kind in ("top_up", "refund", "adjustment+")
        try:
            async with db.transaction() as s:
                move = prepaid.credit if credit else prepaid.debit
                await move(s, org, amount, "CHF", kind=kind.rstrip("+-"), cause=kind, reference=kind)
                expected += amount if credit else -amount
        except InsufficientPrepaidBalance:
            assert not credit and amount > expected  # refused exactly when it would go below zero
        async with db.transaction() as s:
            balance, _ = await ledger.balance(s, org)
            assert balance == expected == await ledger.ledger_sum(s, org) and balance >= 0
    async with db.transaction() as s:
        entries = await ledger.entries(s, org, limit=100)
    assert [e.seq for e in reversed(entries)] == list(range(1, len(entries) + 1))  # gap-free
    running = 0
    for entry in reversed(entries):
        running += entry.amount_minor
        assert entry.balance_after_minor == running and isinstance(entry, LedgerEntry)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_bil_02_balance_is_the_sum_of_entries_and_never_negative(loop_and_db, operations):
    loop, db = loop_and_db
    loop.run_until_complete(run(db, operations))
