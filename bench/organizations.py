"""Benchmarks of the ORG-09 access check (not tests: they print figures and
write them to bench/results-organizations.json).

1. Access checks over HTTP (organizations as a real uvicorn process on
   SQLite, tokens verified against a JWKS served here) against the trivial
   /healthz of the same process in the same run, both driven by wrk with the
   same connections: goal ratio >= 0.5. Then an open-loop load of 500
   checks/s for some seconds: goal p95 < 10 ms.
2. The in-process check (manager_shared.access_check) on a projection of
   10,000 organizations x 20 members built from events: goal >= 50,000/s.

Usage: python bench/organizations.py [--seconds N] [--orgs N]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

# This file is bench/organizations.py: keep its folder off the path so that
# `organizations` is the service package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402

from manager_shared.testing.bench import p95, serve_jwks
from manager_shared.testing.fixtures import local_broker_settings
from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import launch, stop, wait_ready
from manager_shared.testing.tokens import TestTokens

RESULTS = Path(__file__).with_name("results-organizations.json")
ACTIONS = ("use", "manage", "technical", "statistics")


async def populate(settings, tokens: TestTokens, members: int = 20, products: int = 30) -> list[tuple[str, str]]:
    """One organization with `members` members and `products` products with
    grants, made through organizations' own code; returns (path, token) pairs
    of access checks to replay."""
    from manager_shared.events import AccountRegistered, ProductProvisioned
    from manager_shared.testing.fixtures import feed
    from organizations.main import create_app

    app = create_app(settings)
    out = []
    async with app.router.lifespan_context(app):
        owner = uuid.uuid4()
        await feed(app, AccountRegistered(account_id=owner, account_version=1, email="owner@example.ch",
                                          first_name="O", last_name="W", language="en", time_zone="UTC"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://org") as c:
            tokens.trust_in(app)
            h = tokens.headers(owner)
            org = (await c.post("/v1/organizations", json={"name": "Bench AG", "kind": "company"}, headers=h)).json()
            org_id = org["id"]
            product_ids = [uuid.uuid4() for _ in range(products)]
            for i, pid in enumerate(product_ids):
                await feed(app, ProductProvisioned(product_id=pid, organization_id=uuid.UUID(org_id),
                                                   kind=("domain", "drive", "hosting")[i % 3], name=f"p{i}"))
            accounts = [owner]
            for k in range(members - 1):
                account = uuid.uuid4()
                email = f"m{k}@example.ch"
                await feed(app, AccountRegistered(account_id=account, account_version=1, email=email,
                                                  first_name="M", last_name=str(k), language="en", time_zone="UTC"))
                grants = [{"product_id": str(p), "rights": ["use"]} for p in random.sample(product_ids, 5)]
                await c.post(f"/v1/organizations/{org_id}/invitations", headers=h,
                             json={"email": email, "role": "collaborator", "grants": grants})
                from organizations.models import outbox_table
                import sqlalchemy as sa
                from manager_shared.events import parse_event
                async with app.state.runtime.db.transaction() as s:
                    payload = (await s.execute(sa.select(outbox_table.c.payload).where(
                        outbox_table.c.type == "InvitationCreated").order_by(outbox_table.c.id.desc()))).scalars().first()
                token = parse_event(payload).token
                r = await c.post("/v1/invitations/accept", json={"token": token}, headers=tokens.headers(account))
                assert r.status_code == 200, r.text
                accounts.append(account)
    for _ in range(200):
        account = random.choice(accounts)
        path = f"/v1/organizations/{org_id}/access?action={random.choice(ACTIONS)}&product_id={random.choice(product_ids)}"
        out.append((path, tokens.token(account)))
    return out


WRK_SCRIPT = """
requests = {}
%s
counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  return wrk.format("GET", r[1], {["Authorization"] = "Bearer " .. r[2]})
end
done = function(summary, latency, requests_)
  io.write(string.format("RESULT %%d %%d %%d %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.duration, latency:percentile(95)))
end
"""


def wrk(base: str, calls: list[tuple[str, str]], seconds: int, connections: int) -> tuple[float, float]:
    lines = "\n".join(f'requests[{i + 1}] = {{"{p}", "{t}"}}' for i, (p, t) in enumerate(calls))
    script = Path(tempfile.mkdtemp()) / "check.lua"
    script.write_text(WRK_SCRIPT % lines)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    _, requests, errors, duration_us, p95_us = next(l for l in out.splitlines() if l.startswith("RESULT")).split()
    if int(errors):
        raise RuntimeError(f"wrk saw {errors} errors:\n{out}")
    return int(requests) / (int(duration_us) / 1e6), float(p95_us) / 1e6


async def open_loop(base: str, calls: list[tuple[str, str]], rate: float, seconds: float,
                    connections: int = 32) -> dict:
    """`rate` checks per second on a fixed schedule whatever the answers take
    (open loop); each latency counts from the scheduled start, so queueing is
    included. A bare asyncio HTTP/1.1 keep-alive client: far lighter than
    httpx, so the generator leaves the shared cores to the server."""
    host, port = base.removeprefix("http://").split(":")
    requests = [(f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n\r\n").encode()
                for p, t in calls]
    n = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue = asyncio.Queue()
    start = time.perf_counter() + 0.1

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while True:
            item = await queue.get()
            if item is None:
                break
            i, due = item
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - due)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return {"offered_per_s": rate, "achieved_per_s": round(n / elapsed, 1), "p50_ms": round(
        statistics.median(latencies) * 1000, 2), "p95_ms": round(p95(latencies) * 1000, 2), "errors": errors,
            "client": f"open loop, {connections} keep-alive connections, latency from the scheduled start"}


def bench_http(broker: TansuBroker, seconds: int, database_url: str) -> dict:
    from organizations.config import Settings

    tokens = TestTokens()
    jwks_server, jwks_url = serve_jwks(tokens)
    overrides = {**local_broker_settings(broker.bootstrap), "database_url": database_url,
                 "log_level": "WARNING", "jwks_url": jwks_url}
    calls = asyncio.run(populate(Settings(**{**overrides, "consumers_enabled": False}), tokens))
    svc = launch("organizations", overrides)
    base = svc.url
    try:
        wait_ready(svc)
        path, token = calls[0]
        answer = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}).json()
        assert "allowed" in answer, answer
        health = [("/healthz", tokens.token(uuid.uuid4()))]
        wrk(base, calls, 2, 8)  # warm-up (JWKS fetched, caches filled)
        health_rate, health_p95 = wrk(base, health, seconds, 8)
        check_rate, check_p95 = wrk(base, calls, seconds, 8)
        health_again, _ = wrk(base, health, seconds, 8)  # bracket: the machine is shared and noisy
        print(f"healthz {health_rate:.0f}/s then {health_again:.0f}/s; checks {check_rate:.0f}/s "
              f"p95 {check_p95 * 1000:.1f} ms", flush=True)
        paced = asyncio.run(open_loop(base, calls, 500, seconds))
        paced_health = asyncio.run(open_loop(base, health, 500, seconds))  # the same pace on the trivial endpoint
    finally:
        stop(svc)
        jwks_server.shutdown()
    baseline = (health_rate + health_again) / 2
    return {"healthz_per_s": round(baseline, 1), "healthz_p95_ms": round(health_p95 * 1000, 2),
            "checks_per_s": round(check_rate, 1), "checks_p95_ms": round(check_p95 * 1000, 2),
            "ratio": round(check_rate / baseline, 3), "at_500_per_s": paced, "healthz_at_500_per_s": paced_health,
            "load": "wrk -t1 -c8, each check a different member/product/action of a 20-member organization"}


def bench_in_process(orgs: int, members: int, checks: int) -> dict:
    from manager_shared.access_check import AccessProjection
    from manager_shared.events import MemberAdded, MemberRightsChanged, ProductAdded, ProductGrant

    projection = AccessProjection()
    rng = random.Random(7)
    samples = []
    start = time.perf_counter()
    n_events = 0
    for _ in range(orgs):
        org = uuid.uuid4()
        products = [uuid.uuid4() for _ in range(5)]
        version = 0
        events = []
        for p in products:
            version += 1
            events.append(ProductAdded(organization_id=org, product_id=p, kind="domain", category="domains", name="x",
                                       org_version=version))
        accounts = [uuid.uuid4() for _ in range(members)]
        for k, account in enumerate(accounts):
            version += 1
            role = "legal_representative" if k == 0 else ("administrator" if k < 3 else "collaborator")
            events.append(MemberAdded(organization_id=org, account_id=account, role=role, org_version=version))
            if role == "collaborator":
                version += 1
                events.append(MemberRightsChanged(
                    organization_id=org, account_id=account, category_grants=[], full_access=False, accounting=False,
                    changed_by=accounts[0], org_version=version,
                    grants=[ProductGrant(product_id=p, rights=["use"]) for p in rng.sample(products, 2)]))
        for event in events:
            projection.apply(event)
        n_events += len(events)
        samples.append((org, accounts, products))
    built = time.perf_counter() - start
    queries = []
    for _ in range(checks):
        org, accounts, products = rng.choice(samples)
        queries.append((rng.choice(accounts), org, rng.choice(ACTIONS), rng.choice(products)))
    check = projection.check
    start = time.perf_counter()
    allowed = 0
    for account, org, action, product in queries:
        allowed += check(account, org, action, product).allowed
    rate = checks / (time.perf_counter() - start)
    return {"organizations": orgs, "members_per_organization": members, "events_applied": n_events,
            "build_s": round(built, 1), "checks": checks, "checks_per_s": round(rate), "allowed_share": round(
                allowed / checks, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=500_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the HTTP part (apt-get install wrk)")
    results = {"machine": {"cpus": os.cpu_count(), "python": pyplatform.python_version(),
                           "platform": pyplatform.platform()},
               "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    from manager_shared.testing.postgres import PostgresServer

    broker = TansuBroker().start()
    pg = PostgresServer().start()
    try:
        tmp = tempfile.mkdtemp(prefix="bench-organizations-")
        results["http_postgresql"] = bench_http(broker, args.seconds, pg.create_database("bench_org"))
        results["http_sqlite"] = bench_http(broker, args.seconds, f"sqlite+aiosqlite:///{tmp}/org.db")
    finally:
        pg.stop()
        broker.stop()
    print(json.dumps({k: v for k, v in results.items() if k.startswith("http")}, indent=2), flush=True)
    # last: its 200,000-member projection would otherwise weigh on the load client's process
    results["in_process"] = bench_in_process(args.orgs, 20, args.checks)
    print(json.dumps(results["in_process"], indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
