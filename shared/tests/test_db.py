"""X-02: the shared database layer keeps a unit of work atomic on SQLite and
PostgreSQL, savepoints included."""
from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from manager_shared.db import Database

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
thing = sa.Table("thing", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path}/x02.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres").create_database("x02"))
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def _names(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list((await session.execute(sa.select(thing.c.name).order_by(thing.c.id))).scalars())


class Boom(Exception):
    pass


async def test_x_02_nested_write_goes_with_the_outer_rollback(db):
    """A savepoint released inside a unit of work that then fails leaves
    nothing (on SQLite the RELEASE used to commit on its own)."""
    with pytest.raises(Boom):
        async with db.transaction() as session:
            await session.execute(sa.select(thing.c.id))  # a read first, as sign-up does
            async with session.begin_nested():
                await session.execute(thing.insert().values(name="nested"))
            raise Boom()
    assert await _names(db) == []


async def test_x_02_rolled_back_savepoint_keeps_the_rest(db):
    async with db.transaction() as session:
        await session.execute(thing.insert().values(name="kept"))
        with pytest.raises(Boom):
            async with session.begin_nested():
                await session.execute(thing.insert().values(name="undone"))
                raise Boom()
        await session.execute(thing.insert().values(name="after"))
    assert await _names(db) == ["kept", "after"]


async def test_x_02_concurrent_read_then_write_units_of_work_all_commit(db):
    """Units of work that read, await, then write (through a savepoint for
    half of them) do not fail with "database is locked" beside each other."""
    async def unit(i: int) -> None:
        async with db.transaction() as session:
            await session.execute(sa.select(sa.func.count()).select_from(thing))
            await asyncio.sleep(0.001)
            if i % 2:
                async with session.begin_nested():
                    await session.execute(thing.insert().values(name=f"n{i}"))
            else:
                await session.execute(thing.insert().values(name=f"w{i}"))

    await asyncio.gather(*(unit(i) for i in range(40)))
    assert len(await _names(db)) == 40
