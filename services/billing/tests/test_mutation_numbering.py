"""BIL-06/BIL-07, gap-free numbers per series (billing.invoices.numbering):
the format and the counter row, on an in-process SQLite database holding
only the counter table: fast enough to run once per mutant (X-03)."""
from __future__ import annotations

import pytest

from billing.invoices import numbering
from billing.invoices.models import NumberCounter
from billing.models import Base
from manager_shared.db import Database

COUNTERS = NumberCounter.__table__


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/numbers.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=[COUNTERS]))
    yield database
    await database.dispose()


def test_bil_06_numbers_have_six_digits_and_start_at_one():
    assert numbering.format_number("2026", 1) == "2026-000001"
    assert numbering.format_number("CN-2026", 2) == "CN-2026-000002"
    assert numbering.format_number("2026", 123456) == "2026-123456"
    assert numbering.format_number("2026", 1234567) == "2026-1234567"
    for value in (0, -1):
        with pytest.raises(ValueError):
            numbering.format_number("2026", value)


def test_bil_06_series_per_kind_and_year():
    assert [numbering.series_for(kind, 2026) for kind in ("invoice", "credit_note", "proforma")] == [
        "2026", "CN-2026", "PF-2026"]
    assert numbering.series_for("invoice", 999) == "0999"


@pytest.mark.parametrize("number, value", [("2026-000042", 42), ("PF-2026-000007", 7), ("CN-2027-1234567", 1234567),
                                           ("2026-000001", 1)])
def test_bil_06_the_counter_value_of_a_number(number, value):
    assert numbering.sequence_of(number) == value


async def test_bil_06_each_series_counts_from_one_without_gaps(db):
    async with db.transaction() as s:
        taken = [await numbering.take(s, COUNTERS, "2026") for _ in range(3)]
        other = await numbering.take(s, COUNTERS, "CN-2026")
    assert (taken, other) == ([1, 2, 3], 1)
    async with db.transaction() as s:
        assert await numbering.next_number(s, COUNTERS, "invoice", 2026) == "2026-000004"
        assert await numbering.next_number(s, COUNTERS, "proforma", 2026) == "PF-2026-000001"
        assert await numbering.next_number(s, COUNTERS, "invoice", 2027) == "2027-000001"
        assert (await s.get(NumberCounter, "2026")).last_value == 4
        assert (await s.get(NumberCounter, "CN-2026")).last_value == 1


async def test_bil_06_a_rolled_back_number_is_given_again(db):
    async with db.transaction() as s:
        assert await numbering.take(s, COUNTERS, "2026") == 1
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            assert await numbering.take(s, COUNTERS, "2026") == 2
            raise RuntimeError("the finalisation failed")
    async with db.transaction() as s:
        assert await numbering.take(s, COUNTERS, "2026") == 2
