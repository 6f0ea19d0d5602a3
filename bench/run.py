"""Benchmarks of the foundation (not tests: they print figures and write them
to bench/results.json; README quotes them).

1. Password sign-ins per second through identity's HTTP API (a real process,
   uvicorn, SQLite) against the raw Argon2id verify rate measured in the same
   run with the same parallelism (both cores): goal ratio >= 0.85.
2. TOTP second steps per second with the replay record written (identity's
   own verify in a transaction, SQLite and PostgreSQL) against bare pyotp
   checks: goal >= 1,000/s, p95 < 50 ms.
3. Events per second through outbox -> Tansu broker -> idempotent consumer on
   PostgreSQL, with the p95 lag from commit to applied: goal >= 1,000/s, p95 < 1 s.

Usage: ./manager bench [--signins N] [--events N]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
from argon2 import PasswordHasher, Type

from manager_shared.testing.bench import p95
from manager_shared.testing.fixtures import local_broker_settings
from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import launch, stop, wait_ready

RESULTS = Path(__file__).with_name("results.json")
PASSWORD = "Alpenrose-Matterhorn-42"


def raw_argon2_rate(n: int, workers: int, memory_kib: int = 19456, time_cost: int = 2) -> float:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID)
    hashed = hasher.hash(PASSWORD)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: hasher.verify(hashed, PASSWORD), range(n)))
    return n / (time.perf_counter() - start)


async def http_signin_rate(base: str, n: int, concurrency: int) -> tuple[float, float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        queue = asyncio.Queue()
        for _ in range(n):
            queue.put_nowait(1)

        async def worker():
            while not queue.empty():
                queue.get_nowait()
                t = time.perf_counter()
                r = await client.post("/v1/sessions", json={"email": "bench@example.ch", "password": PASSWORD})
                assert r.status_code == 200, r.text
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return n / (time.perf_counter() - start), p95(latencies)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"email":"bench@example.ch","password":"%s"}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.duration, latency:percentile(95)))
end
""" % PASSWORD


def wrk_signin_rate(base: str, seconds: int, concurrency: int) -> tuple[float, float] | None:
    """The same load from wrk (C, one thread): the generator then takes far
    less of the 2 shared cores than an asyncio client would."""
    import shutil

    if not shutil.which("wrk"):
        return None
    script = Path(tempfile.mkdtemp()) / "signin.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", str(script),
                          f"{base}/v1/sessions"], capture_output=True, text=True, check=True).stdout
    _, requests, errors, duration_us, p95_us = next(l for l in out.splitlines() if l.startswith("RESULT")).split()
    if int(errors):
        raise RuntimeError(f"wrk saw {errors} failed sign-ins:\n{out}")
    return int(requests) / (int(duration_us) / 1e6), float(p95_us) / 1e6


def bench_signins(broker: TansuBroker, n: int, memory_kib: int = 19456, time_cost: int = 2) -> dict:
    tmp = tempfile.mkdtemp(prefix="bench-identity-")
    svc = launch("identity", {**local_broker_settings(broker.bootstrap),
                              "database_url": f"sqlite+aiosqlite:///{tmp}/identity.db", "log_level": "WARNING",
                              "argon2_memory_kib": memory_kib, "argon2_time_cost": time_cost})
    base = svc.url
    try:
        wait_ready(svc)
        httpx.post(f"{base}/v1/accounts", json={"email": "bench@example.ch", "password": PASSWORD,
                                                "first_name": "B", "last_name": "M"}).raise_for_status()
        asyncio.run(http_signin_rate(base, 10, 2))  # warm-up
        workers = os.cpu_count() or 2
        raw = raw_argon2_rate(n, workers, memory_kib, time_cost)
        http, http_p95 = asyncio.run(http_signin_rate(base, n, workers * 2))
        by_wrk = wrk_signin_rate(base, max(5, int(n / max(raw, 1))), workers * 2)
        raw_again = raw_argon2_rate(n, workers, memory_kib, time_cost)  # bracket the HTTP run: the machine is shared and noisy
    finally:
        stop(svc)
    baseline = (raw + raw_again) / 2
    return {"signins": n, "raw_argon2id_verify_per_s": round(baseline, 1), "http_signins_per_s": round(http, 1),
            "ratio": round(http / baseline, 3), "http_signin_p95_ms": round(http_p95 * 1000, 1),
            **({"wrk_signins_per_s": round(by_wrk[0], 1), "wrk_ratio": round(by_wrk[0] / baseline, 3),
                "wrk_signin_p95_ms": round(by_wrk[1] * 1000, 1)} if by_wrk else {}),
            "argon2": f"m={memory_kib} KiB, t={time_cost}, p=1", "parallelism": workers}


async def bench_totp(db_url: str, n: int, concurrency: int = 16) -> dict:
    """TOTP second steps as identity runs them (TotpFactor.verify: row lock,
    code check, replay record written, commit), n distinct accounts, against
    the bare pyotp check of the same codes in the same run."""
    import uuid

    import pyotp

    from identity.factor_totp import TotpFactor
    from identity.location import locate
    from identity.main import MIGRATIONS
    from identity.models import Account, TotpMethod
    from identity.schemas import MfaStep
    from manager_shared.clock import SystemClock
    from manager_shared.db import Database, migrate

    db = Database(db_url)
    await migrate(db, MIGRATIONS)
    now = SystemClock().now()
    secrets_ = [pyotp.random_base32(32) for _ in range(n)]
    ids = [uuid.uuid4() for _ in range(n)]
    async with db.transaction() as s:
        s.add_all(Account(id=i, email=f"t{k}@example.ch", email_normalized=f"t{k}@example.ch", password_hash="x",
                          first_name="T", last_name="B", language="en", time_zone="UTC", second_factors=1,
                          created_at=now, updated_at=now) for k, i in enumerate(ids))
        await s.flush()
        s.add_all(TotpMethod(account_id=i, name="app", secret=sec, created_at=now, confirmed_at=now)
                  for i, sec in zip(ids, secrets_))

    class _Service:  # what TotpFactor needs of TwoFactorService
        clock = SystemClock()

    factor = TotpFactor()
    factor.service = _Service()
    where = locate("195.186.1.1", "bench")
    token = "x" * 20
    codes = [pyotp.TOTP(sec).now() for sec in secrets_]
    start = time.perf_counter()
    raw_ok = sum(pyotp.TOTP(sec).verify(code, valid_window=1) for sec, code in zip(secrets_, codes))
    raw_rate = n / (time.perf_counter() - start)

    latencies: list[float] = []
    queue: asyncio.Queue = asyncio.Queue()
    for item in zip(ids, codes):
        queue.put_nowait(item)
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        while not queue.empty():
            account_id, code = queue.get_nowait()
            t = time.perf_counter()
            async with db.transaction() as s:
                ok = await factor.verify(s, account_id, MfaStep(mfa_token=token, code=code), {}, where)
            latencies.append(time.perf_counter() - t)
            accepted += ok

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    rate = n / (time.perf_counter() - start)
    # the replay record: every code again, all refused
    async with db.transaction() as s:
        replayed = sum([await factor.verify(s, ids[k], MfaStep(mfa_token=token, code=codes[k]), {}, where)
                        for k in range(min(n, 100))])
    await db.dispose()
    return {"database": db_url.split("://")[0], "verifications": n, "concurrency": concurrency,
            "accepted": accepted, "raw_accepted": raw_ok, "replays_accepted": replayed,
            "verifications_per_s": round(rate, 1), "p95_ms": round(p95(latencies) * 1000, 2),
            "raw_pyotp_per_s": round(raw_rate, 1)}


def _events(n: int) -> list:
    import uuid

    from manager_shared.events import AccountRegistered

    return [AccountRegistered(account_id=uuid.uuid4(), account_version=1, email="b@example.ch", first_name="B",
                              last_name="M", language="en", time_zone="UTC") for _ in range(n)]


async def _produce(db, n: int, rate: float | None, batch: int = 10) -> None:
    """Record n events in transactions of `batch`; paced at `rate` events/s if given."""
    from manager_shared.outbox import Outbox
    from manager_shared.testing import probe

    outbox, start = Outbox(probe.outbox), time.perf_counter()
    for i in range(0, n, batch):
        if rate:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        async with db.transaction() as session:
            await outbox.record(session, *_events(min(batch, n - i)))


async def _applied(db) -> int:
    import sqlalchemy as sa

    from manager_shared.testing import probe

    async with db.transaction() as s:
        return (await s.execute(sa.select(sa.func.count()).select_from(probe.effect))).scalar_one()


async def bench_events(broker: TansuBroker, db_url: str, burst: int, rate: float, seconds: float) -> dict:
    """Burst: `burst` events committed at once, time until all applied.
    Steady: `rate` events/s for `seconds`, p50/p95 lag from commit to applied."""
    from faststream.kafka import KafkaBroker

    from manager_shared.db import Database
    from manager_shared.testing import probe
    from manager_shared.topics import ensure_topics

    db = Database(db_url)
    await probe.create_tables(db)
    kafka = KafkaBroker(broker.bootstrap, log_level=10)
    topic = f"bench.events.{time.time_ns()}"
    await ensure_topics(broker.bootstrap, [topic], partitions=3, replication=1)
    # The consumer is another process, as it is another service in production.
    out = Path(tempfile.mkdtemp()) / "probe.out"
    consumer = subprocess.Popen([sys.executable, "-m", "manager_shared.testing.probe", db_url, broker.bootstrap,
                                 topic, f"bench-{topic}", "quiet"], stdout=open(out, "w"), stderr=subprocess.STDOUT)
    try:
        while "ready" not in out.read_text():
            if consumer.poll() is not None:
                raise RuntimeError(f"probe consumer exited: {out.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        return await _measure(db, kafka, topic, burst, rate, seconds)
    finally:
        consumer.terminate()
        consumer.wait(10)


async def _measure(db, kafka, topic: str, burst: int, rate: float, seconds: float) -> dict:
    import sqlalchemy as sa

    from manager_shared.outbox import OutboxRelay
    from manager_shared.testing import probe

    async def publish(_topic, key, value, headers):
        return await kafka.publish(value, topic, key=key, headers=headers, no_confirm=True)

    relay = OutboxRelay(db, probe.outbox, publish, service="bench")
    await kafka.start()
    await asyncio.sleep(2)  # let the consumer group settle before timing
    relay.start()
    start = time.perf_counter()
    await _produce(db, burst, None, batch=50)
    while await _applied(db) < burst:
        await asyncio.sleep(0.02)
    burst_rate = burst / (time.perf_counter() - start)

    steady = int(rate * seconds)
    await _produce(db, steady, rate)
    while await _applied(db) < burst + steady:
        await asyncio.sleep(0.02)
    async with db.transaction() as s:
        rows = (await s.execute(sa.select(probe.outbox.c.created_at, probe.effect.c.applied_at)
                                .join(probe.effect, probe.effect.c.event_id == probe.outbox.c.event_id)
                                .order_by(probe.outbox.c.id).offset(burst))).all()
    lags = [(a - c).total_seconds() for c, a in rows]
    await relay.stop()
    await kafka.stop()
    await db.dispose()
    return {"database": db.url.split("://")[0], "burst_events": burst, "burst_events_per_s": round(burst_rate, 1),
            "steady_rate_per_s": rate, "steady_events": steady,
            "lag_p50_ms": round(statistics.median(lags) * 1000, 1), "lag_p95_ms": round(p95(lags) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signins", type=int, default=200)
    parser.add_argument("--events", type=int, default=5000, help="burst size")
    parser.add_argument("--rate", type=float, default=1000.0, help="steady offered load, events/s")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--totp", type=int, default=3000, help="TOTP second steps")
    args = parser.parse_args()
    from manager_shared.testing.postgres import PostgresServer

    broker = TansuBroker().start()
    pg = PostgresServer().start()
    try:
        results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "machine": f"{os.cpu_count()} cores, {pyplatform.machine()}",
                   "signin": bench_signins(broker, args.signins),
                   # RFC 9106's second recommended setting: the same HTTP path, a costlier hash
                   "signin_m64_t3": bench_signins(broker, max(args.signins // 4, 40), 65536, 3),
                   "totp_sqlite": asyncio.run(bench_totp(
                       f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/totp.db", args.totp)),
                   "totp_postgresql": asyncio.run(bench_totp(pg.create_database("totp"), args.totp)),
                   "events_sqlite": asyncio.run(bench_events(
                       broker, f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db", args.events, args.rate, args.seconds)),
                   "events_postgresql": asyncio.run(bench_events(
                       broker, pg.create_database("bench"), args.events, args.rate, args.seconds))}
    finally:
        broker.stop()
        pg.stop()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
