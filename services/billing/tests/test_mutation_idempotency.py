"""BIL-02, idempotency keys rule by rule (billing.prepaid.idempotency), on an
in-process SQLite database and hand-made requests: fast enough to run once
per mutant (`./manager mutate`, X-03). Stripe's semantics: same key and body
→ the first answer again; another body → 422; still running → 409; a
business refusal is the key's answer; an unexpected failure frees the key."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from billing.models import Base, BillingAccount
from billing.prepaid.errors import IdempotencyKeyRequired, IdempotencyKeyReused, InsufficientPrepaidBalance, \
    RequestInProgress
from billing.prepaid.idempotency import Claim, IdempotentRequests, fingerprint
from billing.prepaid.models import IdempotencyKey
from manager_shared.clock import FrozenClock
from manager_shared.db import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
CALLER, ORG = uuid.UUID(int=1), uuid.UUID(int=2)
BODY = {"amount_minor": 5_000, "currency": "CHF"}


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/keys.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(
            sync, tables=[IdempotencyKey.__table__, BillingAccount.__table__]))
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def keys(db, clock) -> IdempotentRequests:
    return IdempotentRequests(db, clock, lease_seconds=60)


def request(key: str | None, path: str = "/v1/top-ups") -> Request:
    headers = [(b"idempotency-key", key.encode())] if key is not None else []
    return Request({"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": headers,
                    "scheme": "http", "server": ("billing", 80)})


class Work:
    """The money-moving work: counts its runs, writes a row in the request's
    session (the money it moves), then answers or fails as told."""

    def __init__(self, outcome: BaseException | None = None) -> None:
        self.outcome, self.references = outcome, []
        self.session = None

    async def __call__(self, reference: str) -> tuple[int, dict]:
        self.references.append(reference)
        self.session.add(BillingAccount(organization_id=uuid.uuid4(), organization_name="moved",
                                        currency="CHF", created_at=NOW))
        await self.session.flush()
        if self.outcome is not None:
            raise self.outcome
        return 201, {"moved": len(self.references), "at": NOW.isoformat()}


async def send(db: Database, keys: IdempotentRequests, key: str | None, work: Work, body: dict = BODY,
               path: str = "/v1/top-ups"):
    async with db.transaction() as s:
        work.session = s
        return await keys.run(request(key, path), s, CALLER, ORG, body, work)


async def moved(db: Database) -> int:
    async with db.transaction() as s:
        return (await s.execute(sa.select(sa.func.count()).select_from(BillingAccount))).scalar_one()


async def key_rows(db: Database) -> list[tuple[str, str, int | None]]:
    async with db.transaction() as s:
        rows = (await s.execute(sa.select(IdempotencyKey.key, IdempotencyKey.status, IdempotencyKey.response_status)
                                .order_by(IdempotencyKey.key))).all()
    return [tuple(r) for r in rows]


def test_bil_02_fingerprint_is_of_method_path_and_body_in_any_key_order():
    assert fingerprint("POST", "/a", {"x": 1, "y": 2}) == fingerprint("POST", "/a", {"y": 2, "x": 1})
    canonical = json.dumps({"m": "POST", "p": "/a", "b": {"x": 1, "y": 2}}, sort_keys=True, separators=(",", ":"))
    assert fingerprint("POST", "/a", {"y": 2, "x": 1}) == hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/a", {"x": 2})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/b", {"x": 1})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("PUT", "/a", {"x": 1})


def test_bil_02_the_reference_is_stable_per_scope_and_key():
    claim = Claim("caller:org", "k", NOW)
    assert claim.reference == hashlib.sha256(b"caller:org|k").hexdigest()[:40]
    assert len(claim.reference) == 40
    assert Claim("caller:org", "k", NOW.replace(hour=10)).reference == claim.reference
    assert Claim("caller:org", "k2", NOW).reference != claim.reference


async def test_bil_02_same_key_same_body_replays_the_first_answer(db, keys):
    work = Work()
    first = await send(db, keys, "k-1", work)
    assert (first.status_code, json.loads(first.body)) == (201, {"moved": 1, "at": NOW.isoformat()})
    assert first.headers["Idempotent-Replayed"] == "false"
    again = await send(db, keys, "k-1", work)
    assert (again.status_code, json.loads(again.body)) == (201, json.loads(first.body))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(work.references) == 1 and await moved(db) == 1
    assert await key_rows(db) == [("k-1", "done", 201)]
    # another key is another request
    assert (await send(db, keys, "k-2", work)).status_code == 201
    assert await moved(db) == 2 and work.references[0] != work.references[1]
    assert work.references[0] == Claim(f"{CALLER}:{ORG}", "k-1", NOW).reference


async def test_bil_02_same_key_with_another_body_or_path_is_refused(db, keys):
    await send(db, keys, "k", Work())
    for body, path in (({**BODY, "amount_minor": 6_000}, "/v1/top-ups"), (BODY, "/v1/withdrawals")):
        with pytest.raises(IdempotencyKeyReused):
            await send(db, keys, "k", Work(), body, path)
    assert await moved(db) == 1


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 201])
async def test_bil_02_a_key_is_required_and_at_most_200_characters(db, keys, key):
    work = Work()
    with pytest.raises(IdempotencyKeyRequired):
        await send(db, keys, key, work)
    assert work.references == [] and await key_rows(db) == []


async def test_bil_02_a_key_of_200_characters_is_taken_trimmed(db, keys):
    assert (await send(db, keys, " " + "k" * 200 + " ", Work())).status_code == 201
    assert await key_rows(db) == [("k" * 200, "done", 201)]


async def test_bil_02_a_business_refusal_is_the_keys_answer_and_moves_nothing(db, keys):
    work = Work(InsufficientPrepaidBalance(balance_minor=10, currency="CHF"))
    async with db.sessions() as s:
        work.session = s
        with pytest.raises(InsufficientPrepaidBalance):
            await keys.run(request("k"), s, CALLER, ORG, BODY, work)
        # the work's writes were rolled back (before the answer was stored apart)
        assert (await s.execute(sa.select(sa.func.count()).select_from(BillingAccount))).scalar_one() == 0
    again = await send(db, keys, "k", Work())
    assert (again.status_code, json.loads(again.body)) == (409, {
        "code": "insufficient_prepaid_balance", "message": "The prepaid balance does not cover this amount.",
        "balance_minor": 10, "currency": "CHF"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(work.references) == 1 and await moved(db) == 0


async def test_bil_02_an_unexpected_failure_frees_the_key_and_moves_nothing(db, keys):
    await send(db, keys, "other", Work())
    work = Work(RuntimeError("the provider timed out"))
    async with db.sessions() as s:
        work.session = s
        with pytest.raises(RuntimeError):
            await keys.run(request("k"), s, CALLER, ORG, BODY, work)
        # only the earlier request's row: the failed work's write was rolled back
        assert (await s.execute(sa.select(sa.func.count()).select_from(BillingAccount))).scalar_one() == 1
    # the failed request's claim is released (kept, for close_unfinished), not answered
    assert sorted(await key_rows(db)) == [("k", "released", None), ("other", "done", 201)]
    retry = Work()
    assert (await send(db, keys, "k", retry)).status_code == 201  # at once: the claim was released
    assert len(retry.references) == 1 and await moved(db) == 2
    assert sorted(await key_rows(db)) == [("k", "done", 201), ("other", "done", 201)]


async def test_bil_02_unfinished_keys_not_retried_are_closed_once_with_409(db, keys, clock):
    """close_unfinished: released keys and dead claims whose last attempt
    began more than `idle_for` ago are answered for good (409
    request_abandoned) and returned; answered keys, recent ones and a claim
    whose lease runs are not."""
    await send(db, keys, "answered", Work())
    with pytest.raises(RuntimeError):
        await send(db, keys, "released", Work(RuntimeError("the database went away")))
    scope, print_ = f"{CALLER}:{ORG}", fingerprint("POST", "/v1/top-ups", BODY)
    dead = await keys.claim(scope, "dead", print_)
    idle = timedelta(minutes=15)

    async def close() -> list[str]:
        async with db.transaction() as s:
            return sorted(c.key for c in await keys.close_unfinished(s, idle))
    clock.advance(minutes=15)  # the last attempts began exactly 15 minutes ago: not yet
    assert await close() == []
    clock.advance(seconds=1)
    later = await keys.claim(scope, "recent", print_)  # began just now, its lease runs
    assert await close() == ["dead", "released"]
    assert await close() == []
    assert sorted(await key_rows(db)) == [("answered", "done", 201), ("dead", "done", 409),
                                          ("recent", "in_progress", None), ("released", "done", 409)]
    replay = await send(db, keys, "released", Work())
    assert (replay.status_code, json.loads(replay.body)["code"]) == (409, "request_abandoned")
    assert dead.reference != later.reference
    # the dead claimer coming back cannot answer over the closing
    with pytest.raises(RequestInProgress):
        async with db.transaction() as s:
            await keys.finish(s, dead, 201, {})


async def test_bil_02_a_running_claim_answers_409_until_its_lease_has_passed(db, keys, clock):
    scope, print_ = f"{CALLER}:{ORG}", fingerprint("POST", "/v1/top-ups", BODY)
    await keys.claim(scope, "other", print_)
    claim = await keys.claim(scope, "k", print_)
    assert claim == Claim(scope, "k", NOW.replace(minute=1))
    with pytest.raises(RequestInProgress):
        await keys.claim(scope, "k", print_)
    clock.advance(seconds=59)
    with pytest.raises(RequestInProgress):
        await send(db, keys, "k", Work())
    clock.advance(seconds=1)  # the lease ends now: the claimer is taken for dead
    work = Work()
    assert (await send(db, keys, "k", work)).status_code == 201
    assert len(work.references) == 1 and work.references[0] == claim.reference
    # the dead claimer, coming back, cannot store its answer over the new one
    with pytest.raises(RequestInProgress):
        async with db.transaction() as s:
            await keys.finish(s, claim, 500, {})
    assert await key_rows(db) == [("k", "done", 201), ("other", "in_progress", None)]


async def test_bil_02_a_claim_taken_over_twice_is_taken_once(db, keys, clock):
    scope, print_ = f"{CALLER}:{ORG}", fingerprint("POST", "/v1/top-ups", BODY)
    await keys.claim(scope, "k", print_)
    clock.advance(seconds=61)
    taken = await keys.claim(scope, "k", print_)
    assert taken.lease_until == clock.now() + timedelta(seconds=60)
    with pytest.raises(RequestInProgress):  # the first taker's lease runs now
        await keys.claim(scope, "k", print_)


async def test_bil_02_an_error_that_asks_for_a_retry_frees_the_key_instead_of_answering(db, keys):
    """A PSP that did not answer (a retryable DomainError): nothing stays,
    the key is not answered with the 503, and the same request runs again."""
    from billing.payments.provider import ProviderUnavailable

    with pytest.raises(ProviderUnavailable):
        await send(db, keys, "k", Work(ProviderUnavailable()))
    assert await key_rows(db) == [("k", "released", None)] and await moved(db) == 0
    retry = Work()
    assert (await send(db, keys, "k", retry)).status_code == 201
    assert await key_rows(db) == [("k", "done", 201)] and await moved(db) == 1


@pytest.mark.parametrize("vanishing, claimed", [(2, True), (3, False)])
async def test_bil_02_a_key_seen_taken_but_gone_when_read_is_claimed_again_three_times(db, keys, monkeypatch,
                                                                                       vanishing, claimed):
    """Between the INSERT that found the key taken and the read of that row,
    the row may go (purged): claim again, at most three times in all."""
    from billing.prepaid import idempotency as module

    real, attempts = module.insert_if_absent, []

    async def taken_then_gone(conn, table, values):
        attempts.append(values["key"])
        return False if len(attempts) <= vanishing else await real(conn, table, values)
    monkeypatch.setattr(module, "insert_if_absent", taken_then_gone)
    print_ = fingerprint("POST", "/v1/top-ups", BODY)
    if claimed:
        assert (await keys.claim("s", "k", print_)).key == "k"
    else:
        with pytest.raises(RequestInProgress):
            await keys.claim("s", "k", print_)
    assert len(attempts) == 3
