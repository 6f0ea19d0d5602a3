"""The shared database layer on SQLite and PostgreSQL: a unit of work is
atomic, savepoints included (X-02), and timestamps are aware UTC."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from manager_shared.db import Database, UtcDateTime, before_commit

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


stamped = sa.Table("stamped", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("at", UtcDateTime(), nullable=True))


async def test_x_03_timestamps_are_aware_utc_on_both_databases(db):
    """SQLite has no time zone type: the shared column type still hands back
    aware UTC, stores any offset as its UTC instant, and refuses a naive value."""
    async with db.engine.begin() as conn:
        await conn.run_sync(stamped.metadata.create_all)
    zurich = timezone(timedelta(hours=1))
    async with db.transaction() as session:
        await session.execute(stamped.insert().values(id=1, at=datetime(2026, 3, 5, 15, 4, 5, tzinfo=zurich)))
        await session.execute(stamped.insert().values(id=2, at=None))
    async with db.transaction() as session:
        at = (await session.execute(sa.select(stamped.c.at).where(stamped.c.id == 1))).scalar_one()
        oldest = (await session.execute(sa.select(sa.func.min(stamped.c.at)))).scalar_one()
        later = (await session.execute(sa.select(stamped.c.id).where(
            stamped.c.at > datetime(2026, 3, 5, 14, 4, 4, tzinfo=timezone.utc)))).scalars().all()
        empty = (await session.execute(sa.select(stamped.c.at).where(stamped.c.id == 2))).scalar_one()
    assert at == oldest == datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)
    assert at.utcoffset() == timedelta(0) and oldest.utcoffset() == timedelta(0)
    assert later == [1] and empty is None
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"):
        async with db.transaction() as session:
            await session.execute(stamped.insert().values(id=3, at=datetime(2026, 3, 5, 14, 4, 5)))


async def test_x_02_work_deferred_to_the_commit_runs_once_inside_the_unit_of_work(db):
    """before_commit: the last registration per key runs once, after the
    block, in the same transaction (its writes commit with the rest)."""
    calls = []

    def summary(label):
        async def write(session):
            calls.append(label)
            await session.execute(thing.insert().values(name=label))
        return write

    async with db.transaction() as session:
        await session.execute(thing.insert().values(name="step 1"))
        before_commit(session, "summary", summary("early"))
        await session.execute(thing.insert().values(name="step 2"))
        before_commit(session, "summary", summary("late"))
        before_commit(session, "other", summary("other"))
        assert calls == []  # nothing ran during the block
    assert calls == ["late", "other"]
    assert await _names(db) == ["step 1", "step 2", "late", "other"]


async def test_x_02_deferred_work_of_a_failed_unit_of_work_never_runs(db):
    calls = []

    async def write(session):
        calls.append(1)

    with pytest.raises(Boom):
        async with db.transaction() as session:
            before_commit(session, "summary", write)
            raise Boom()
    assert calls == [] and await _names(db) == []


async def test_x_02_a_failing_deferred_step_rolls_the_unit_of_work_back(db):
    async def fails(session):
        raise Boom()

    with pytest.raises(Boom):
        async with db.transaction() as session:
            await session.execute(thing.insert().values(name="needs its summary"))
            before_commit(session, "summary", fails)
    assert await _names(db) == []


async def test_x_02_a_connection_the_server_closed_is_replaced_at_checkout(postgres):
    """No pool_pre_ping (three round trips per checkout with asyncpg): a
    pooled connection whose backend was terminated (a restart, an idle
    timeout) is dropped when taken from the pool, and the unit of work runs
    on a fresh one instead of failing."""
    import asyncpg

    url = postgres.create_database("x02_closed")
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with database.transaction() as session:  # one connection now idles in the pool
            pid = (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        for _ in range(500):  # until the event loop has read the server's goodbye
            if driver.is_closed():
                break
            await asyncio.sleep(0.01)
        assert driver.is_closed()
        async with database.transaction() as session:
            await session.execute(thing.insert().values(name="after"))
            assert (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one() != pid
        assert await _names(database) == ["after"]
    finally:
        await database.dispose()


async def test_x_02_autocommit_statements_commit_one_by_one(db):
    async with db.autocommit() as conn:
        await conn.execute(thing.insert().values(name="kept"))
    assert await _names(db) == ["kept"]


async def test_x_02_write_lock_serialises_check_then_write_units_of_work(db):
    """Two units of work each read "is there a row?" then write one if not:
    with write_lock first (SQLite's write lock; on PostgreSQL the caller's
    row locks do this), the second sees the first's row on SQLite."""
    from manager_shared.db import write_lock

    async def once(name: str) -> None:
        async with db.transaction() as session:
            await write_lock(session)
            if not (await session.execute(sa.select(sa.func.count()).select_from(thing))).scalar_one():
                await asyncio.sleep(0.05)  # the other unit of work runs meanwhile
                await session.execute(thing.insert().values(name=name))

    await asyncio.gather(once("a"), once("b"))
    names = await _names(db)
    assert len(names) == (1 if db.is_sqlite else 2)
