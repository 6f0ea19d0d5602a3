"""BIL-02: top-ups by card — limits, declines, 3-D Secure completed, failed
or abandoned; no money moves unless the card was charged."""
from __future__ import annotations

import uuid

import pytest


async def test_bil_02_card_top_up_credits_and_tells(world):
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 10_000)
    assert r.status_code == 201 and r.json()["status"] == "succeeded"
    assert await world.balance(org, owner) == 10_000
    credited = await world.events("PrepaidTopUpCredited")
    assert [(e.organization_id, e.amount_minor, e.currency, e.balance_minor) for e in credited] == [
        (org, 10_000, "CHF", 10_000)]
    assert "card_token" not in credited[0].model_dump_json() and "tok_" not in credited[0].model_dump_json()


@pytest.mark.parametrize("token,reason", [("tok_declined", "declined"),
                                          ("tok_insufficient_funds", "insufficient_funds"),
                                          ("tok_nonsense", "declined")])
async def test_bil_02_refused_card_moves_nothing(sqlite_world, token, reason):
    world = sqlite_world
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 5_000, token=token)
    assert (r.status_code, r.json()["status"]) == (402, "failed")
    assert await world.balance(org, owner) == 0
    failed = await world.events("PaymentFailed")
    assert [(e.payment_id, e.reason, e.purpose) for e in failed] == [
        (uuid.UUID(r.json()["id"]), reason, "top_up")]
    assert await world.events("PrepaidTopUpCredited") == []


async def test_bil_02_limits_and_bad_input_have_stable_codes(world):
    org, owner = await world.organization()
    limits = world.app.state.top_ups.limits
    cases = [({"amount_minor": 0}, "amount_not_positive"), ({"amount_minor": -500}, "amount_not_positive"),
             ({"amount_minor": limits.minimum_minor - 1}, "amount_below_minimum"),
             ({"amount_minor": limits.maximum_minor + 1}, "amount_above_maximum"),
             ({"amount_minor": 5_000, "currency": "EUR"}, "currency_mismatch")]
    for change, code in cases:
        body = {"amount_minor": 5_000, "currency": "CHF", "card_token": "tok_visa", **change}
        r = await world.c.post(f"/v1/organizations/{org}/prepaid/top-ups", json=body, headers=world.h(owner))
        assert (r.status_code, r.json()["code"]) == (422, code), change
    for body in ({"amount_minor": 5_000, "currency": "USD", "card_token": "tok_visa"},
                 {"amount_minor": 50.5, "currency": "CHF", "card_token": "tok_visa"},
                 {"amount_minor": 5_000, "currency": "CHF"}):
        r = await world.c.post(f"/v1/organizations/{org}/prepaid/top-ups", json=body, headers=world.h(owner))
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), body
    assert await world.balance(org, owner) == 0 and await world.events("PaymentFailed") == []


async def test_bil_02_daily_limit_counts_the_last_24_hours(sqlite_world):
    world = sqlite_world
    org, owner = await world.organization()
    limits = world.app.state.top_ups.limits
    for _ in range(limits.daily_maximum_minor // limits.maximum_minor):
        assert (await world.top_up(org, owner, limits.maximum_minor)).status_code == 201
    r = await world.top_up(org, owner, limits.minimum_minor)
    assert (r.status_code, r.json()["code"], r.json()["remaining_minor"]) == (422, "daily_top_up_limit_reached", 0)
    world.clock.advance(hours=24, seconds=1)
    assert (await world.top_up(org, owner, limits.minimum_minor)).status_code == 201


async def test_bil_02_three_d_secure_completes_through_the_signed_webhook(world):
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 8_000, token="tok_3ds")
    assert (r.status_code, r.json()["status"]) == (202, "pending") and r.json()["action_url"]
    assert await world.balance(org, owner) == 0
    [action] = await world.events("PaymentActionRequired")
    assert (action.amount_minor, action.purpose) == (8_000, "top_up")
    done = await world.c.post(r.json()["action_url"], json={"outcome": "succeeded"}, headers=world.h(owner, None))
    assert done.json() == {"status": "applied"}
    assert await world.balance(org, owner) == 8_000
    status = await world.c.get(f"/v1/organizations/{org}/prepaid/top-ups/{r.json()['id']}",
                               headers=world.h(owner, None))
    assert status.json()["status"] == "succeeded"


async def test_bil_02_three_d_secure_failed_or_abandoned_credits_nothing(world):
    org, owner = await world.organization()
    failed = await world.top_up(org, owner, 3_000, token="tok_3ds")
    await world.c.post(failed.json()["action_url"], json={"outcome": "failed"}, headers=world.h(owner, None))
    abandoned = await world.top_up(org, owner, 4_000, token="tok_3ds")
    world.clock.advance(minutes=29)
    assert await world.app.state.payment_sweeper.sweep_once() == 0  # not yet
    world.clock.advance(minutes=2)
    assert await world.app.state.payment_sweeper.sweep_once() == 1
    reasons = {e.payment_id.hex: e.reason for e in await world.events("PaymentFailed")}
    assert reasons == {uuid.UUID(failed.json()["id"]).hex: "authentication_failed",
                       uuid.UUID(abandoned.json()["id"]).hex: "expired"}
    assert await world.balance(org, owner) == 0
    # the cardholder completes it after all: the card was charged, so it is credited
    await world.c.post(abandoned.json()["action_url"], json={"outcome": "succeeded"}, headers=world.h(owner, None))
    assert await world.balance(org, owner) == 4_000
