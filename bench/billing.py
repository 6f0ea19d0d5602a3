"""Benchmarks of billing's money half (issue 11; not tests: they print figures
and write them to bench/results-billing.json).

1. Prepaid debits per second through billing's HTTP API on PostgreSQL:
   billing runs as a real process (uvicorn); each request is
   POST /v1/organizations/{id}/payments paying one open invoice entirely from
   the prepaid balance (use_prepaid, no card): access token verified, the
   Idempotency-Key claimed and its answer stored, the invoice locked and
   marked paid, the balance debited (conditional UPDATE + ledger entry), the
   standing recomputed, the events written to the outbox (relayed to a real
   broker meanwhile). Two loads with the same concurrency:
   - spread: many organizations, each request another one (round robin);
   - hot: one organization, every request on the same prepaid account,
     funded for all but the last EXTRA invoices: those must be refused
     (422 card_token_required) and the balance end at exactly 0.
   Baseline in the same run, on the same PostgreSQL server: pgbench with the
   same number of clients running the ledger's own UPDATE ... RETURNING +
   INSERT of an entry in one transaction, on a copy of billing's schema,
   over as many accounts (spread) and over one account (hot).
   Goals: API >= 0.5x pgbench; hot account >= 300 debits/s; 0 negative balances.
   Also written: the server process's CPU time per request, and the checks
   after the run (no negative balance, every balance = its ledger's sum =
   funds - paid invoices, one debit per paid invoice).
2. Invoice PDFs with the Swiss QR-bill payment part rendered per second on
   one core (one process, one thread): goal >= 50/s. Also per CPU-second of
   this process (the machine is shared), and cProfile's shares of the time.

Usage: python bench/billing.py [--clients 16] [--invoices 2000] [--hot 1200] [--pdfs 200]
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
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

# This file is bench/billing.py: keep its folder off the path so that
# `billing` is the service package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


from manager_shared.testing.bench import p95, serve_jwks  # noqa: E402
from manager_shared.testing.fixtures import local_broker_settings  # noqa: E402
from manager_shared.testing.kafka import TansuBroker  # noqa: E402
from manager_shared.testing.platform import launch, stop, wait_ready  # noqa: E402
from manager_shared.testing.tokens import TestTokens  # noqa: E402

RESULTS = Path(__file__).with_name("results-billing.json")
EXTRA = 20  # hot account: requests beyond what its balance covers
UNIT_PRICE = 1_000  # one invoice line of CHF 10.00 (+ 8.1 % VAT = 10.81)


# --- 1. prepaid debits through the API --------------------------------------------------------------------------

@dataclass
class Org:
    id: uuid.UUID
    owner: uuid.UUID
    invoices: list[uuid.UUID] = field(default_factory=list)
    invoice_total: int = 0
    funded: int = 0


async def populate(settings, spread_orgs: int, spread_invoices: int, hot_invoices: int, warmup: int) -> tuple[
        list[Org], Org]:
    """Organizations with a legal representative, a prepaid balance and open
    invoices, made by billing's own code (events fed as the broker would,
    invoices issued by app.state.invoices, the balance an adjustment)."""
    from billing.invoices.service import LineDraft
    from billing.main import create_app
    from manager_shared.events import MemberAdded, OrganizationCreated
    from manager_shared.testing.fixtures import feed

    app = create_app(settings)
    line = [LineDraft(description="Bench hosting", offer_code=None, product_id=None, period_start=None,
                      period_end=None, quantity=1, unit_price_minor=UNIT_PRICE)]
    per_org = -(-(spread_invoices + warmup) // spread_orgs)
    async with app.router.lifespan_context(app):
        async def make(count: int, covered: int) -> Org:
            org = Org(uuid.uuid4(), uuid.uuid4())
            await feed(app, OrganizationCreated(organization_id=org.id, name="Bench AG", kind="company",
                                                created_by=org.owner, currency="CHF", org_version=1),
                       MemberAdded(organization_id=org.id, account_id=org.owner, role="legal_representative",
                                   org_version=2))
            for start in range(0, count, 200):
                async with app.state.runtime.db.transaction() as s:
                    for k in range(start, min(count, start + 200)):
                        invoice = await app.state.invoices.issue(s, organization_id=org.id, currency="CHF",
                                                                 lines=line, source_ref=f"bench:{org.id}:{k}")
                        org.invoices.append(invoice.id)
                        org.invoice_total = invoice.total_minor
            org.funded = org.invoice_total * covered
            async with app.state.runtime.db.transaction() as s:
                await app.state.prepaid.credit(s, org.id, org.funded, "CHF", kind="adjustment",
                                               cause="benchmark funds", reference="bench")
            return org

        spread = [await make(per_org, per_org) for _ in range(spread_orgs)]
        hot = await make(hot_invoices, hot_invoices - EXTRA)
    return spread, hot


async def load(bases: list[str], calls: list[tuple[str, str, bytes]], clients: int) -> dict:
    """`calls` (path, token, body) sent by `clients` keep-alive HTTP/1.1
    connections as fast as answers come (closed loop), the connections spread
    over the replicas at `bases` as a load balancer would. A bare asyncio
    client: far lighter than httpx, so it leaves the shared cores to the server."""
    queue: asyncio.Queue = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    codes: dict[str, int] = {}

    async def connection(base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            path, token, body = queue.get_nowait()
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                    f"Idempotency-Key: {uuid.uuid4().hex}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            t = time.perf_counter()
            writer.write(head + body)
            answer = await reader.readuntil(b"\r\n\r\n")
            length = int(next(l.split(b":")[1] for l in answer.split(b"\r\n")
                              if l.lower().startswith(b"content-length")))
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            status = int(answer.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 300:
                code = json.loads(payload).get("code", "?")
                codes[code] = codes.get(code, 0) + 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection(bases[k % len(bases)]) for k in range(clients)))
    elapsed = time.perf_counter() - start
    return {"requests": len(calls), "seconds": round(elapsed, 2), "requests_per_s": round(len(calls) / elapsed, 1),
            "debits_per_s": round(statuses.get(201, 0) / elapsed, 1), "p50_ms": round(
                statistics.median(latencies) * 1000, 1), "p95_ms": round(p95(latencies) * 1000, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "refusals": codes}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(bases: list[str], pids: list[int], calls: list, clients: int, profile: Path | None = None) -> dict:
    """`load`, plus the server processes' CPU time per request; with
    `profile`, py-spy samples the first replica meanwhile (collapsed stacks)."""
    spy = None
    if profile is not None:
        import shutil

        spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record",
                                "--pid", str(pids[0]), "--format", "raw", "--rate", "200", "--nonblocking",
                                "--output", str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # py-spy attaches
    before = sum(cpu_seconds(pid) for pid in pids)
    result = asyncio.run(load(bases, calls, clients))
    if spy is not None:
        spy.send_signal(2)
        spy.wait(30)
    result["server_cpu_ms_per_request"] = round((sum(cpu_seconds(pid) for pid in pids) - before) * 1000
                                                / len(calls), 1)
    return result


def calls_for(orgs: list[Org], tokens: TestTokens, take: slice) -> list[tuple[str, str, bytes]]:
    """One payment per invoice in `take` of each organization, interleaved
    (round robin) so that concurrent requests hit different accounts."""
    per_org = [[(f"/v1/organizations/{o.id}/payments", tokens.token(o.owner),
                 json.dumps({"invoice_ids": [str(i)], "use_prepaid": True}).encode()) for i in o.invoices[take]]
               for o in orgs]
    return [call for round_ in zip(*per_org) for call in round_]


async def ledger_facts(url: str, orgs: list[Org]) -> dict:
    """After the run: negative balances (none allowed anywhere), balances
    equal to their ledger's sum, and each balance = funds - paid invoices."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        negative = await conn.fetchval("SELECT count(*) FROM prepaid_account WHERE balance_minor < 0")
        mismatched = await conn.fetchval(
            "SELECT count(*) FROM prepaid_account a WHERE a.balance_minor <> (SELECT coalesce(sum(amount_minor), 0) "
            "FROM prepaid_ledger_entry e WHERE e.organization_id = a.organization_id)")
        wrong = 0
        for org in orgs:
            balance = await conn.fetchval("SELECT balance_minor FROM prepaid_account WHERE organization_id = $1",
                                          org.id)
            paid = await conn.fetchval("SELECT coalesce(sum(total_minor), 0) FROM invoice WHERE organization_id = $1"
                                       " AND status = 'paid'", org.id)
            wrong += balance != org.funded - paid
        # each payment here pays one invoice: as many debits as paid invoices, or one was paid twice
        debits = await conn.fetchval("SELECT count(*) FROM prepaid_ledger_entry WHERE kind = 'payment'")
        paid_invoices = await conn.fetchval("SELECT count(*) FROM invoice WHERE status = 'paid'")
    finally:
        await conn.close()
    return {"negative_balances": negative, "balances_not_equal_to_ledger_sum": mismatched,
            "balances_not_equal_to_funds_minus_paid": wrong, "payment_debits": debits,
            "invoices_paid": paid_invoices}


PGBENCH_SCRIPT = """
\\set aid random(1, :accounts)
BEGIN;
UPDATE prepaid_account SET balance_minor = balance_minor - :amount, entries = entries + 1, updated_at = now()
 WHERE organization_id = ('00000000-0000-0000-0000-' || lpad(:aid::text, 12, '0'))::uuid
   AND currency = 'CHF' AND balance_minor - :amount >= 0 RETURNING balance_minor AS bal, entries AS seq \\gset
INSERT INTO prepaid_ledger_entry (id, organization_id, seq, kind, amount_minor, currency, balance_after_minor, cause,
 reference, created_at) VALUES (gen_random_uuid(), ('00000000-0000-0000-0000-' || lpad(:aid::text, 12, '0'))::uuid,
 :seq, 'payment', -:amount::bigint, 'CHF', :bal, 'payment of invoices', 'pgbench', now());
END;
"""


async def pgbench_schema(url: str, accounts: int) -> None:
    """billing's own tables (its migrations), `accounts` funded accounts."""
    from billing.main import MIGRATIONS
    from manager_shared.db import Database, migrate

    db = Database(url)
    await migrate(db, MIGRATIONS)
    await db.dispose()
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute(
        "INSERT INTO prepaid_account SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'CHF', "
        f"1000000000000, 0, now() FROM generate_series(1, {accounts}) i")
    await conn.close()


def pgbench(url: str, accounts: int, clients: int, seconds: int, amount: int) -> dict:
    """pgbench (C, one thread) running the ledger's UPDATE + INSERT."""
    import shutil

    asyncio.run(pgbench_schema(url, accounts))
    script = Path(tempfile.mkdtemp()) / "debit.sql"
    script.write_text(PGBENCH_SCRIPT)
    m = re.match(r"postgresql\+asyncpg://(\w+)@([\d.]+):(\d+)/(\w+)", url)
    user, host, port, name = m.groups()
    out = subprocess.run([shutil.which("pgbench") or "pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1",
                          "-T", str(seconds), "-f", str(script), "-D", f"accounts={accounts}", "-D",
                          f"amount={amount}", "-h", host, "-p", port, "-U", user, name],
                         capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": round(tps, 1), "failed": int(failed.group(1)) if failed else 0,
            "latency_avg_ms": float(latency.group(1)) if latency else None}


def bench_debits(broker: TansuBroker, pg, clients: int, invoices: int, hot_invoices: int, orgs: int,
                 seconds: int, replicas: int = 1, profile: Path | None = None) -> dict:
    from billing.config import Settings

    tokens = TestTokens()
    jwks_server, jwks_url = serve_jwks(tokens)
    url = pg.create_database("bench_billing")
    overrides = {**local_broker_settings(broker.bootstrap), "database_url": url, "log_level": "WARNING",
                 "jwks_url": jwks_url, "renewal_scan_interval_seconds": 0, "payment_sweep_interval_seconds": 0}
    warmup = 2 * orgs
    t = time.perf_counter()
    spread, hot = asyncio.run(populate(Settings(**{**overrides, "consumers_enabled": False}), orgs, invoices,
                                       hot_invoices, warmup))
    print(f"populated {orgs} + 1 organizations, {sum(len(o.invoices) for o in spread) + len(hot.invoices)} "
          f"invoices in {time.perf_counter() - t:.0f} s", flush=True)
    per_org = len(spread[0].invoices)
    services = [launch("billing", overrides) for _ in range(replicas)]  # one database, one broker
    bases, pids = [svc.url for svc in services], [svc.process.pid for svc in services]
    try:
        for svc in services:
            wait_ready(svc)
        warm = asyncio.run(load(bases, calls_for(spread, tokens, slice(0, 2)), clients))
        assert warm["statuses"] == {"201": warmup}, warm
        api_spread = measured(bases, pids, calls_for(spread, tokens, slice(2, per_org)), clients, profile)
        print(f"API spread: {api_spread}", flush=True)
        api_hot = measured(bases, pids, calls_for([hot], tokens, slice(None)), clients)
        print(f"API hot: {api_hot}", flush=True)
    finally:
        for svc in services:
            stop(svc)
        jwks_server.shutdown()
    facts = asyncio.run(ledger_facts(url, [*spread, hot]))
    hot_ok = (api_hot["statuses"].get("201") == hot_invoices - EXTRA
              and api_hot["refusals"] == {"card_token_required": EXTRA})
    base_spread = pgbench(pg.create_database("bench_pgbench"), orgs, clients, seconds, spread[0].invoice_total)
    base_hot = pgbench(pg.create_database("bench_pgbench_hot"), 1, clients, seconds, spread[0].invoice_total)
    print(f"pgbench spread {base_spread}, hot {base_hot}", flush=True)
    return {
        "what": "POST /v1/organizations/{id}/payments {invoice_ids: [one open invoice], use_prepaid: true} "
                "with a bearer token and a fresh Idempotency-Key; billing as a uvicorn process on PostgreSQL; "
                "every 201 is one prepaid debit (ledger entry) + the invoice paid + outbox events",
        "clients": clients,
        "replicas": replicas,
        "spread": {"organizations": orgs, **api_spread, "pgbench_tps": base_spread["tps"],
                   "ratio_to_pgbench": round(api_spread["debits_per_s"] / base_spread["tps"], 3),
                   "pgbench": base_spread},
        "hot_account": {**api_hot, "funded_for": hot_invoices - EXTRA, "refused_as_expected": hot_ok,
                        "pgbench_tps": base_hot["tps"],
                        "ratio_to_pgbench": round(api_hot["debits_per_s"] / base_hot["tps"], 3),
                        "pgbench": base_hot},
        "checks": facts,
        "baseline": f"pgbench -n -M prepared -c {clients} -j 1 -T {seconds}: BEGIN; UPDATE prepaid_account ... "
                    "RETURNING; INSERT INTO prepaid_ledger_entry ...; END (billing's schema, same server)",
    }


# --- 2. invoice PDFs with the QR-bill ---------------------------------------------------------------------------

def bench_pdfs(n: int) -> dict:
    """One core: this process, one thread, `n` different invoices (number,
    reference and amount change, so the QR code is new each time)."""
    from billing.config import Settings
    from billing.invoices import pdf, references

    settings = Settings()
    languages = ("de", "fr", "it", "en", "es")

    def document(k: int) -> pdf.Document:
        number = f"2026-{k:06d}"
        lines = [pdf.DocLine(f"Webhosting Business {j}", "01.01.26 - 31.12.26", 1 + j, 12_000 + k, 0,
                             (1 + j) * (12_000 + k), Decimal("0.081")) for j in range(4)]
        return pdf.Document(
            kind="invoice", number=number, issued_on=date(2026, 12, 4), currency="CHF",
            language=languages[k % 5], due_on=date(2027, 1, 3), lines=lines,
            buyer=pdf.Party("Muster AG", "Bahnhofstrasse 1", "8001", "Zürich", "CH", "CHE-109.322.551 MWST"),
            payment_reference=references.qr_reference(references.INVOICE, references.invoice_value(number)))

    docs = [document(k) for k in range(1, n + 1)]
    sizes = [len(pdf.render(docs[0], settings, payment_part=True))]  # warm-up (imports, the reduced fonts)
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs:
        sizes.append(len(pdf.render(doc, settings, payment_part=True)))
    rate, cpu_rate = n / (time.perf_counter() - start), n / (time.process_time() - cpu)
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs[: n // 2]:
        pdf.render(doc, settings)
    plain, plain_cpu = (n // 2) / (time.perf_counter() - start), (n // 2) / (time.process_time() - cpu)
    # where the time goes (cProfile, 20 documents)
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for doc in docs[:20]:
        pdf.render(doc, settings, payment_part=True)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(tt for _, _, tt, _, _ in stats.values())
    # the same labels as before, measured where that work is done now: fonts are parsed once per process
    # and cloned per document (pdf_fonts.add_shared_font), subset by our producer (pdf_fonts._add_fonts),
    # masks scored by billing.invoices.qrmatrix.penalty
    parts = {"fonts parsed (fpdf add_font)": ("pdf_fonts.py", "add_shared_font"),
             "fonts subset and written (fpdf output)": ("pdf_fonts.py", "_add_fonts"),
             "QR code: mask selection (qrcode best_mask_pattern)": ("qrmatrix.py", "penalty"),
             "QR code: whole image (qr_image)": ("qrbill.py", "qr_image")}
    shares = {label: round(max((ct for (file, _, func), (_, _, _, ct, _) in stats.items()
                                if file.endswith(suffix) and func == name), default=0) / total, 2)
              for label, (suffix, name) in parts.items()}
    return {"pdfs": n, "pdfs_per_s": round(rate, 1), "pdfs_per_cpu_s": round(cpu_rate, 1),
            "without_payment_part_per_s": round(plain, 1), "without_payment_part_per_cpu_s": round(plain_cpu, 1),
            "time_shares": shares,
            "avg_bytes": round(statistics.mean(sizes)), "fonts": "DejaVu Sans embedded (subset)"
            if Path(settings.invoice_font_dir, "DejaVuSans.ttf").is_file() else "core Helvetica",
            "what": "billing.invoices.pdf.render(payment_part=True): a 4-line CHF invoice with the QR-bill, "
                    "one process, one thread; per_cpu_s counts this process's CPU time only (the machine is shared)"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (and pgbench clients)")
    parser.add_argument("--invoices", type=int, default=2000, help="payments over many accounts")
    parser.add_argument("--orgs", type=int, default=50, help="organizations of the spread load")
    parser.add_argument("--hot", type=int, default=1200, help="payments on one account")
    parser.add_argument("--seconds", type=int, default=10, help="pgbench duration")
    parser.add_argument("--pdfs", type=int, default=200)
    parser.add_argument("--only", choices=("debits", "pdfs"))
    parser.add_argument("--replicas", type=int, default=2,
                        help="billing processes on the one database (connections spread over them)")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the server (spread load) here")
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "python": pyplatform.python_version(),
                           "platform": pyplatform.platform()},
               "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if args.only != "pdfs":
        from manager_shared.testing.postgres import PostgresServer

        broker = TansuBroker().start()
        pg = PostgresServer().start()
        try:
            results["prepaid_debits"] = bench_debits(broker, pg, args.clients, args.invoices, args.hot, args.orgs,
                                                     args.seconds, args.replicas, args.profile)
        finally:
            pg.stop()
            broker.stop()
        print(json.dumps(results["prepaid_debits"], indent=2), flush=True)
    if args.only != "debits":
        results["invoice_pdfs"] = bench_pdfs(args.pdfs)
        print(json.dumps(results["invoice_pdfs"], indent=2), flush=True)
    if args.only is None:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
