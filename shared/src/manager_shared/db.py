"""Database plumbing shared by the services: engine, unit of work, the
outbox/inbox tables and Alembic migrations run programmatically."""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class UtcDateTime(sa.types.TypeDecorator):
    """A timestamp column that is always timezone-aware UTC in Python.

    SQLite has no time zone type and hands back naive datetimes; PostgreSQL
    hands back aware ones. This type stores UTC on both and returns aware UTC
    values, so no caller patches tzinfo and every API answer and event built
    from a row carries an offset. A naive value is refused: its zone is
    unknown, and guessing would shift the stored instant. The DDL is the
    plain `DateTime(timezone=True)` (migrations compare equal)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is required, got {value!r}")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def event_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Create the outbox and inbox tables in a service's own metadata.

    outbox: events written in the same transaction as the state change, and
    published by the relay after commit.
    processed_event: (consumer, event_id) of every event a consumer applied,
    written in the same transaction as the effect, so a redelivery is skipped.
    """
    outbox = sa.Table(
        "outbox", metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Index("ix_outbox_unpublished", "published_at", "id"),
    )
    inbox = sa.Table(
        "processed_event", metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
        sa.Index("ix_processed_event_processed_at", "processed_at"),  # the retention job's range
    )
    from .lease import lease_table  # the relay's lease row (one active relay per service)

    lease_table(metadata)
    return outbox, inbox


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - driver callback
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # In WAL mode NORMAL is crash-safe for the application; only a power cut
    # can lose the last commits (PostgreSQL is the production database).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    # take BEGIN away from the driver. In its legacy mode pysqlite (and
    # aiosqlite on top of it) emits BEGIN only before INSERT/UPDATE/DELETE, so
    # a SAVEPOINT opened first runs outside any transaction and its RELEASE
    # commits for good, whatever the outer transaction does afterwards
    # (SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL"
    # recipe). _sqlite_begin_before_write emits BEGIN itself.
    dbapi_conn.isolation_level = None


# Statements that write (or open a savepoint): the first of them in a unit of
# work starts the SQLite transaction.
_SQLITE_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER", "WITH"})


def _sqlite_transaction_begun(conn) -> None:  # pragma: no cover - engine callback
    conn.info["sqlite_begun"] = False


def _sqlite_begin_before_write(conn, cursor, statement, _params, _context, _many) -> None:  # pragma: no cover
    """BEGIN IMMEDIATE right before a unit of work's first write.

    Not at the start of every unit of work, as the documented recipe does in
    its `begin` hook (measured, 8 writers on two engines, each reading, then
    awaiting 1 ms, then writing): a plain deferred BEGIN there turns the later
    write into an upgrade of a read snapshot, which SQLite refuses at once
    (SQLITE_BUSY, busy_timeout does not apply: 324 of 400 units of work
    failed); BEGIN IMMEDIATE there fails none but holds the write lock from the
    first read, across whatever the unit of work awaits (a password hash, the
    relay's broker acks, /readyz's ping): a write beside a unit of work that
    read and then awaited 1 s waited 936 ms instead of 3 ms. Beginning at the
    first write keeps reads lock-free as before, waits for the lock under
    busy_timeout instead of failing (0 of 400 failed), and puts savepoints,
    DDL (migrations) and every write inside one transaction."""
    if conn.info.get("sqlite_begun", True):
        return
    if statement.lstrip().split(None, 1)[0].upper() in _SQLITE_WRITES:
        cursor.execute("BEGIN IMMEDIATE")
        conn.info["sqlite_begun"] = True


def sqlite_transactions(sync_engine) -> None:
    """Install the SQLite transaction handling above on a (sync) engine."""
    sa_event.listen(sync_engine, "connect", _sqlite_pragmas)
    sa_event.listen(sync_engine, "begin", _sqlite_transaction_begun)
    sa_event.listen(sync_engine, "before_cursor_execute", _sqlite_begin_before_write)


def _drop_closed(dbapi_connection, _record, _proxy) -> None:  # pragma: no cover - pool callback
    """A pooled connection whose server side went away (restart, terminated
    backend, idle timeout) is discarded at checkout and another one taken:
    asyncpg marks the connection closed as soon as the event loop reads the
    server's goodbye, so this needs no round trip (SQLAlchemy's documented
    "disconnect handling - pessimistic, custom" pattern)."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa.exc.DisconnectionError("connection closed by the server")


class Database:
    """One service's database: engine, sessions and commit hooks."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # No pool_pre_ping: with asyncpg it costs three round trips per
            # checkout (BEGIN, ";", ROLLBACK), measured as a third of a
            # two-statement request's CPU. _drop_closed below catches what it
            # is there for (a server restarted or a backend terminated) for free.
            kwargs.update(pool_size=10, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            sqlite_transactions(self.engine.sync_engine)
        else:
            sa_event.listen(self.engine.sync_engine.pool, "checkout", _drop_closed)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: list[tuple[str, Callable[[], None]]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def on_commit(self, flag: str, hook: Callable[[], None]) -> None:
        """Run `hook` after a unit of work commits that set `session.info[flag]`
        (e.g. the outbox wakes its relay only when events were recorded; a
        hook on every commit would wake the relay with its own commits)."""
        self._after_commit.append((flag, hook))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits if the block succeeds, rolls back otherwise.
        Work deferred with `before_commit` runs last, inside it."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
                await run_before_commit(session)
            flags = dict(session.info)
        for flag, hook in self._after_commit:
            if flags.get(flag):
                hook()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements commit one by one: on PostgreSQL in
        autocommit (one round trip for a lone statement instead of BEGIN,
        the statement and COMMIT); on SQLite a short transaction."""
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    async def session_dependency(self) -> AsyncIterator[AsyncSession]:
        """FastAPI dependency: one transaction per request, committed when the
        endpoint returns without error (so events and state land together)."""
        async with self.transaction() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_BEFORE_COMMIT = "before_commit"


def before_commit(session: AsyncSession, key: object, hook: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Run `hook(session)` once at the end of this unit of work, before it
    commits: a summary recomputed from what the whole unit of work changed
    (e.g. billing's standing after a debit and an invoice paid) is then
    written once, not after each step. The same `key` registered again
    replaces the earlier hook."""
    session.info.setdefault(_BEFORE_COMMIT, {})[key] = hook


async def run_before_commit(session: AsyncSession) -> None:
    while hooks := session.info.pop(_BEFORE_COMMIT, None):  # a hook may defer more work
        for hook in hooks.values():
            await hook(session)


async def write_lock(session: AsyncSession) -> None:
    """Take SQLite's one write lock now (BEGIN IMMEDIATE), for a unit of work
    whose checks must see no concurrent writer before its first write; on
    PostgreSQL nothing (row locks do that there)."""
    if session.get_bind().dialect.name != "sqlite":
        return

    def begin(sync_session) -> None:
        connection = sync_session.connection()
        if not connection.info.get("sqlite_begun", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.info["sqlite_begun"] = True

    await session.run_sync(begin)


async def insert_if_absent(session: AsyncSession | AsyncConnection, table: sa.Table, values: dict | list[dict]) -> bool:
    """INSERT of one row (or several) that does nothing where a unique key
    already holds one (ON CONFLICT DO NOTHING on PostgreSQL and SQLite): for
    "first time seen" records that concurrent requests may both try to write.
    True if anything was inserted."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = (session.get_bind() if isinstance(session, AsyncSession) else session).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(insert(table).values(values).on_conflict_do_nothing())
    return result.rowcount >= 1


def alembic_config(script_location: Path, url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def migrate(db: Database, script_location: Path) -> None:
    """Apply the service's Alembic migrations up to head on its own engine."""
    from alembic import command

    cfg = alembic_config(script_location, db.url)

    def _upgrade(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


def run_alembic_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's migrations/env.py.

    Works in two modes: given a live connection (start-up, tests) or the URL
    from the config (the `alembic` command line, run with a sync driver).
    """
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or ""
    url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg2")
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sqlite_transactions(engine)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
