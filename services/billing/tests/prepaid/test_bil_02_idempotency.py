"""BIL-02: the same money request retried with the same Idempotency-Key moves
money once; the key is required, bound to its request, and kept for a while."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from billing.prepaid.models import IdempotencyKey


async def test_bil_02_idempotency_key_required(world):
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 5_000, key=None)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_required")
    r = await world.withdraw(org, owner, 100, key=None)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_required")
    assert await world.balance(org, owner) == 0


async def test_bil_02_same_key_same_body_replays_the_first_answer(world):
    org, owner = await world.organization()
    first = await world.top_up(org, owner, 5_000, key="k-1")
    again = await world.top_up(org, owner, 5_000, key="k-1")
    assert (first.status_code, again.status_code) == (201, 201) and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await world.balance(org, owner) == 5_000 and len(await world.events("PrepaidTopUpCredited")) == 1
    r = await world.top_up(org, owner, 6_000, key="k-1")
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    # a business refusal is the key's answer too
    refused = await world.withdraw(org, owner, 9_000, key="k-2")
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_prepaid_balance")
    assert (await world.withdraw(org, owner, 9_000, key="k-2")).json() == refused.json()
    # keys are per caller and organization: another organization's same key is its own
    other, other_owner = await world.organization()
    assert (await world.top_up(other, other_owner, 5_000, key="k-1")).status_code == 201


async def test_bil_02_a_claim_in_progress_answers_409_until_its_lease_passes(world):
    """A request that died after claiming its key: the retry is refused while
    the lease runs, then takes the key over and runs once."""
    org, owner = await world.organization()
    idempotency = world.app.state.idempotency
    from billing.prepaid.idempotency import fingerprint

    body = {"amount_minor": 5_000, "currency": "CHF", "card_token": "tok_visa"}
    claim = await idempotency.claim(f"{owner}:{org}", "k-crash",
                                    fingerprint("POST", f"/v1/organizations/{org}/prepaid/top-ups", body))
    r = await world.top_up(org, owner, 5_000, key="k-crash")
    assert (r.status_code, r.json()["code"]) == (409, "request_in_progress")
    world.clock.advance(seconds=61)
    assert (await world.top_up(org, owner, 5_000, key="k-crash")).status_code == 201
    # the dead claimer, coming back, cannot store an answer over the new one
    async with world.app.state.runtime.db.transaction() as s:
        from billing.prepaid.errors import RequestInProgress
        try:
            await idempotency.finish(s, claim, 201, {})
            raise AssertionError("the old claim finished")
        except RequestInProgress:
            pass
    assert await world.balance(org, owner) == 5_000


async def test_bil_02_keys_are_purged_after_the_keep_time(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 5_000, key="old")
    runtime = world.app.state.runtime
    purged = await runtime.retention.purge(now=world.clock.now() + timedelta(hours=23))
    assert purged.get("idempotency_key", 0) == 0
    purged = await runtime.retention.purge(now=world.clock.now() + timedelta(hours=24, seconds=1))
    assert purged["idempotency_key"] == 1
    async with runtime.db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(IdempotencyKey))).scalar_one() == 0


async def test_bil_02_same_key_from_ten_parallel_clients_moves_money_once(pg_world):
    world = pg_world
    org, owner = await world.organization()
    answers = await asyncio.gather(*(world.top_up(org, owner, 7_000, key="same") for _ in range(10)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}, codes
    assert all(r.json()["code"] == "request_in_progress" for r in answers if r.status_code == 409)
    assert await world.balance(org, owner) == 7_000
    assert len(await world.events("PrepaidTopUpCredited")) == 1
    again = await world.top_up(org, owner, 7_000, key="same")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
