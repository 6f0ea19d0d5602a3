"""Benchmark of notifications (NTF-03/04): events on the broker -> mails
delivered to a real SMTP server, with everything in its own process as in
production (Tansu broker, the notifications service, an aiosmtpd server).

1. Burst: N LoginFromNewLocation events published at once; mails per second
   from the first event published to the last mail accepted by the SMTP server.
2. Steady: N events offered at a fixed rate (the goal's 300/s), then 3,000
   at a lower rate; p50/p95/max latency from the event's `occurred_at` to the
   SMTP server accepting its mail (matched by the Message-ID, the delivery
   key of the event, the recipient and the channel).

Baseline in the same run (before and after, averaged): the same mails,
prebuilt, sent with bare aiosmtplib over as many reused connections to the
same SMTP server: the transport's ceiling on this machine at this moment.

Goal (issue 5): >= 300 mails/s on the 2-core machine, p95 < 2 s.

Usage: python bench/notifications.py [--events 10000] [--rate 300] [--databases sqlite,postgresql,postgresql*2]
Writes bench/results-notifications.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from manager_shared.testing.bench import p95

RESULTS = Path(__file__).with_name("results-notifications.json")
# The Message-ID is the delivery key, sha256 of (event, recipient, channel).
_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:\s*<([0-9a-f]{64})@")


# --- the SMTP server (a separate process: `python bench/notifications.py smtp-sink PORT FILE`) ---

def smtp_sink(port: int, out: str) -> None:
    """A real SMTP server (aiosmtpd) that notes when each mail was accepted
    and its Message-ID; nothing else, so it costs little."""
    from aiosmtpd.controller import Controller

    sink = open(out, "a", buffering=1)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = _MESSAGE_ID.search(envelope.content)
            sink.write(f"{time.time():.6f} {found.group(1).decode() if found else '-'}\n")
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


# --- the run ----------------------------------------------------------------

def _metric(base: str, name: str, **labels: str) -> float:
    import httpx

    total = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Received:
    """The SMTP server's notes, read incrementally (re-reading a file of
    20,000 lines 20 times a second would steal the CPU being measured)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.rows = path, 0, []

    def __call__(self) -> list[tuple[float, str]]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk.rpartition(b"\n")[0]
        if complete:
            self.offset += len(complete) + 1
            for line in complete.decode().splitlines():
                at, key = line.split(" ")
                self.rows.append((float(at), key))
        return self.rows


async def _publish(bootstrap: str, events: list, rate: float | None) -> None:
    """Publish `events` (at `rate` per second if given), each stamped when sent."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        start = time.perf_counter()
        pending = []
        for i, make in enumerate(events):
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            event = make()  # occurred_at = now: the latency clock starts here
            pending.append(await producer.send(event.topic, event.to_bytes(), key=event.key.encode()))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _login(account_id: uuid.UUID):
    from manager_shared.events import LoginFromNewLocation

    return lambda: LoginFromNewLocation(account_id=account_id, account_version=1, ip="80.128.1.1", country="DE",
                                        city="Berlin", device="Firefox on Windows",
                                        login_at=datetime.now(timezone.utc))


async def _wait_for(check, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (have := check()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {have} of {count} after {timeout}s")
        await asyncio.sleep(0.1)


async def smtp_baseline(port: int, n: int, connections: int) -> float:
    """The transport's ceiling in the same run: prebuilt mails of the same
    size sent with aiosmtplib over `connections` reused connections."""
    import aiosmtplib

    from notifications.mailer import build_email
    from notifications.models import Message
    from notifications.rendering import Renderer
    from notifications.catalog import Addressee

    event = _login(uuid.uuid4())()
    to = Addressee(key="k", address="baseline@example.ch", first_name="Bench", language="de", time_zone="Europe/Zurich")
    out = Renderer().render("login_from_new_location", "de", "Europe/Zurich", event=event, to=to)
    raw = build_email(Message(id=1, event_id=uuid.uuid4(), event_type="x", recipient="k", address=to.address,
                              channel="email", template="login_from_new_location", language="de",
                              subject=out.subject, body_text=out.text, body_html=out.html, status="pending",
                              attempts=0, created_at=datetime.now(timezone.utc),
                              next_attempt_at=datetime.now(timezone.utc)), "Manager <no-reply@manager.local>")

    async def one(count: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench")
        await client.connect()
        for _ in range(count):
            await client.sendmail("no-reply@manager.local", [to.address], raw)
        await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(one(n // connections) for _ in range(connections)))
    return (n // connections) * connections / (time.perf_counter() - start)


async def run(bootstrap: str, bases: list[str], sink: Path, accounts: int, events: int, rate: float,
              low_rate: float) -> dict:
    from manager_shared.events import AccountRegistered

    _received = Received(sink)
    ids = [uuid.uuid4() for _ in range(accounts)]
    languages = ("fr", "en", "de", "it", "es")
    registrations = [
        (lambda i=i, a=a: AccountRegistered(account_id=a, account_version=1, email=f"bench-{i}@example.ch",
                                            first_name="Bench", last_name="User", language=languages[i % 5],
                                            time_zone="Europe/Zurich"))
        for i, a in enumerate(ids)]
    await _publish(bootstrap, registrations, None)
    await _wait_for(lambda: int(sum(_metric(b, "events_consumed_total", type="AccountRegistered",
                                            outcome="processed") for b in bases)), accounts, 120)
    warm = len(_received())  # (the baseline's mails are in the file too)
    await _publish(bootstrap, [_login(ids[i % accounts]) for i in range(200)], None)  # warm-up
    await _wait_for(lambda: len(_received()) - warm, 200, 60)

    # 1. burst
    before = len(_received())
    start = time.time()
    await _publish(bootstrap, [_login(ids[i % accounts]) for i in range(events)], None)
    published = time.time()
    await _wait_for(lambda: len(_received()) - before, events, 600)
    burst_rows = _received()[before:before + events]
    burst_end = max(at for at, _ in burst_rows)
    burst_rate = events / (burst_end - start)

    # 2. steady offered load: the goal's rate, then a lower one for the latency of a service that keeps up
    steady = [await _steady(bootstrap, _received, ids, events, rate),
              await _steady(bootstrap, _received, ids, min(events, 3000), low_rate)]
    rows = _received()[warm:]  # (the baseline repeats one prebuilt mail: not a duplicate)
    return {"accounts": accounts,
            "burst": {"events": events, "publish_seconds": round(published - start, 2),
                      "seconds": round(burst_end - start, 2), "mails_per_s": round(burst_rate, 1)},
            "steady": steady, "duplicates": len(rows) - len({e for _, e in rows})}


async def _steady(bootstrap: str, _received, ids: list, events: int, rate: float) -> dict:
    from notifications.transport import delivery_key

    before = len(_received())
    sent_at: dict[str, float] = {}
    makers = []
    for i in range(events):
        make = _login(ids[i % len(ids)])

        def stamped(make=make):
            event = make()
            sent_at[delivery_key(event.event_id, str(event.account_id), "email")] = event.occurred_at.timestamp()
            return event
        makers.append(stamped)
    start = time.time()
    await _publish(bootstrap, makers, rate)
    await _wait_for(lambda: len(_received()) - before, events, 900)
    rows = [(at, e) for at, e in _received()[before:] if e in sent_at]
    lags = [at - sent_at[key] for at, key in rows]
    return {"events": events, "offered_per_s": rate, "mails": len(lags),
            "delivered_per_s": round(len(lags) / (max(at for at, _ in rows) - start), 1),
            "latency_p50_ms": round(statistics.median(lags) * 1000, 1),
            "latency_p95_ms": round(p95(lags) * 1000, 1), "latency_max_ms": round(max(lags) * 1000, 1)}


def bench(database: str, args, broker_bootstrap: str, postgres=None, replicas: int = 1) -> dict:
    from manager_shared.testing.fixtures import local_broker_settings
    from manager_shared.testing.platform import launch, stop, wait_ready
    from manager_shared.testing.ports import free_port

    tmp = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    sink, smtp_port, http_port = tmp / "received.txt", free_port(), free_port()
    db_url = (postgres.create_database("bench_notifications") if database == "postgresql"
              else f"sqlite+aiosqlite:///{tmp}/notifications.db")
    smtp = subprocess.Popen([sys.executable, __file__, "smtp-sink", str(smtp_port), str(sink)],
                            stdout=subprocess.PIPE, text=True)
    assert smtp.stdout.readline().strip() == "ready"
    settings = {
        **local_broker_settings(broker_bootstrap), "database_url": db_url, "log_level": "WARNING",
        "smtp_port": smtp_port, "delivery_batch_size": args.batch, "delivery_concurrency": args.concurrency,
        "sms_file_path": str(tmp / "sms.jsonl")}
    # Replicas share the work as in production: partitions of the consumer
    # group, and claims of due messages (SKIP LOCKED / compare-and-set).
    ports = [http_port] + [free_port() for _ in range(replicas - 1)]
    services = []
    try:
        for port in ports:  # one after the other: the first applies the migrations
            services.append(launch("notifications", settings, port, tmp / f"service-{port}.log"))
            wait_ready(services[-1], 90)
        time.sleep(2)  # the consumer group settles
        baseline = asyncio.run(smtp_baseline(smtp_port, 2000, args.concurrency))
        result = asyncio.run(run(broker_bootstrap, [f"http://127.0.0.1:{p}" for p in ports], sink, args.accounts, args.events, args.rate, args.low_rate))
        baseline_after = asyncio.run(smtp_baseline(smtp_port, 2000, args.concurrency))  # bracket: the machine is shared
        sent = sum(_metric(f"http://127.0.0.1:{p}", "notifications_messages_total", status="sent") for p in ports)
        dead = sum(_metric(f"http://127.0.0.1:{p}", "notifications_messages_total", status="dead") for p in ports)
    finally:
        for service in services:
            stop(service)
        smtp.terminate()
        smtp.wait(10)
    smtp_ceiling = (baseline + baseline_after) / 2
    return {"database": database, "replicas": replicas, "delivery_batch_size": args.batch,
            "delivery_concurrency": args.concurrency,
            **result, "sent_total": int(sent), "dead_total": int(dead),
            "baseline_raw_smtp_mails_per_s": round(smtp_ceiling, 1),
            "burst_ratio_to_raw_smtp": round(result["burst"]["mails_per_s"] / smtp_ceiling, 3),
            "load_average_after": os.getloadavg()[0]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "smtp-sink":
        return smtp_sink(int(sys.argv[2]), sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=300.0, help="steady offered load, events/s")
    parser.add_argument("--low-rate", type=float, default=100.0, help="second steady load (3,000 events at most)")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="delivery batch size")
    parser.add_argument("--concurrency", type=int, default=2, help="delivery loops side by side")
    parser.add_argument("--databases", default="sqlite,postgresql,postgresql*2",
                        help="runs: a database, with *N for N replicas of the service")
    args = parser.parse_args()
    from manager_shared.testing.kafka import TansuBroker

    broker = TansuBroker().start()
    postgres = None
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{os.cpu_count()} cores, {pyplatform.machine()}", "goal": ">= 300 mails/s, p95 < 2 s"}
    try:
        for run_name in args.databases.split(","):
            database, _, replicas = run_name.partition("*")
            if database == "postgresql" and postgres is None:
                from manager_shared.testing.postgres import PostgresServer
                postgres = PostgresServer().start()
            key = database if not replicas else f"{database}_{replicas}_replicas"
            results[key] = bench(database, args, broker.bootstrap, postgres, int(replicas or 1))
            print(json.dumps(results[key], indent=2), flush=True)
    finally:
        broker.stop()
        if postgres is not None:
            postgres.stop()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    # This file's folder is first on sys.path and its name is the service's
    # package name: drop the folder, so `import notifications` finds the service.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
