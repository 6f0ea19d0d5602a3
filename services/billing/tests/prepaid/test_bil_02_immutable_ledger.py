"""BIL-02: ledger entries cannot be changed or deleted, even by a statement
that bypasses the application (database triggers), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from billing.prepaid.models import LedgerEntry
from billing.prepaid import ledger


@pytest.mark.parametrize("statement", [
    sa.update(LedgerEntry).values(amount_minor=1_000_000),
    sa.delete(LedgerEntry),
], ids=["update", "delete"])
async def test_bil_02_ledger_entries_cannot_be_rewritten(world, statement):
    org, owner = await world.organization()
    assert (await world.top_up(org, owner, 5_000)).status_code == 201
    db = world.app.state.runtime.db
    with pytest.raises(DBAPIError, match="immutable"):
        async with db.transaction() as s:
            await s.execute(statement.where(LedgerEntry.organization_id == org))
    async with db.transaction() as s:
        assert await ledger.ledger_sum(s, org) == 5_000 == (await ledger.balance(s, org))[0]


async def test_bil_02_new_entries_are_still_written(world):
    org, owner = await world.organization()
    for _ in range(2):
        assert (await world.top_up(org, owner, 1_000)).status_code == 201
    assert await world.balance(org, owner) == 2_000
