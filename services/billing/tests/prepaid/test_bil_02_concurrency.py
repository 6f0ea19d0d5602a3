"""BIL-02 under load, on PostgreSQL: parallel debits of one account queue on
its row; the final balance is exact and never went below zero."""
from __future__ import annotations

import asyncio

from billing.prepaid import ledger
from billing.prepaid.errors import InsufficientPrepaidBalance


async def test_bil_02_fifty_parallel_debits_leave_an_exact_balance(pg_world):
    world = pg_world
    org, _ = await world.organization()
    prepaid, db = world.app.state.prepaid, world.app.state.runtime.db
    async with db.transaction() as s:
        await prepaid.credit(s, org, 3_000, "CHF", kind="top_up", cause="card top-up", reference="t")

    async def debit(i: int) -> bool:
        try:
            async with db.transaction() as s:
                await prepaid.debit(s, org, 100, "CHF", kind="payment", cause=f"invoice {i}", reference=str(i))
            return True
        except InsufficientPrepaidBalance:
            return False

    outcomes = await asyncio.gather(*(debit(i) for i in range(50)))
    assert outcomes.count(True) == 30 and outcomes.count(False) == 20
    async with db.transaction() as s:
        assert await ledger.balance(s, org) == (0, "CHF")
        assert await ledger.ledger_sum(s, org) == 0
        entries = await ledger.entries(s, org, limit=100)
    assert min(e.balance_after_minor for e in entries) == 0
    assert sorted(e.seq for e in entries) == list(range(1, 32))  # gap-free, one per movement
    standings = await world.events("BillingStandingChanged")
    assert standings[-1].prepaid_balance_minor == 0
    assert [e.standing_version for e in standings] == list(range(1, len(standings) + 1))


async def test_bil_02_parallel_http_top_ups_and_withdrawals_keep_the_sum(pg_world):
    world = pg_world
    org, owner = await world.organization()
    await world.top_up(org, owner, 20_000)
    calls = [world.top_up(org, owner, 1_000) for _ in range(10)] + [world.withdraw(org, owner, 2_500)
                                                                     for _ in range(10)]
    answers = await asyncio.gather(*calls)
    moved = sum(1_000 for r in answers[:10] if r.status_code == 201) - sum(
        2_500 for r in answers[10:] if r.status_code == 202)
    assert {r.status_code for r in answers} <= {201, 202, 409}, [r.text for r in answers]
    assert await world.balance(org, owner) == 20_000 + moved >= 0
    async with world.app.state.runtime.db.transaction() as s:
        assert await ledger.ledger_sum(s, org) == 20_000 + moved
