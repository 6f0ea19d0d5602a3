"""BIL-02/03: a request that charged a card and then failed before its unit
of work committed. The client's retry with the same key gets that charge
once. If nobody retries, the sweep closes the key for good (409
request_abandoned) and voids the charge at the provider: the compensating
step, so a card is never charged for nothing."""
from __future__ import annotations

import pytest

from billing.payments.provider import ChargeStatus

from .test_bil_03_pay_selection import invoice, pay, statuses


class DatabaseWentAway(RuntimeError):
    pass


def crash_after_the_charge(world, monkeypatch):
    """The unit of work fails after the card was charged (as a lost database
    connection at commit would): the first prepaid movement raises."""
    prepaid = world.app.state.prepaid

    async def fail(*args, **kwargs):
        raise DatabaseWentAway()
    monkeypatch.setattr(prepaid, "credit", fail)
    monkeypatch.setattr(prepaid, "debit", fail)


def record_voids(world, monkeypatch) -> list[tuple[str, bool]]:
    provider, calls = world.app.state.webhooks.provider, []
    real = provider.void

    async def void(*, reference):
        calls.append((reference, await real(reference=reference)))
        return calls[-1][1]
    monkeypatch.setattr(provider, "void", void)
    return calls


async def failing(request) -> int:
    """The status of a request whose work raised (500 internal_error), however the test client reports it."""
    try:
        return (await request).status_code
    except DatabaseWentAway:
        return 500


async def top_up_crashing_after_the_charge(world, monkeypatch, key: str):
    """A new organization's top-up of 5,000 under `key`, charged and then
    failed (500); returns the recorded voids, the organization and its owner."""
    voids = record_voids(world, monkeypatch)
    org, owner = await world.organization()
    with monkeypatch.context() as m:
        crash_after_the_charge(world, m)
        assert await failing(world.top_up(org, owner, 5_000, key=key)) == 500
    return voids, org, owner


async def test_bil_02_a_top_up_charged_then_abandoned_is_voided_and_its_key_closed(world, monkeypatch):
    voids, org, owner = await top_up_crashing_after_the_charge(world, monkeypatch, "lost")
    sweeper = world.app.state.payment_sweeper
    world.clock.advance(minutes=14)  # within the window a retry would still get the charge: nothing is closed
    assert await sweeper.sweep_once() == 0 and voids == []
    world.clock.advance(minutes=2)
    assert await sweeper.sweep_once() == 1
    assert [voided for _, voided in voids] == [True]  # the charge existed at the provider and is undone
    assert await sweeper.sweep_once() == 0  # closed once
    again = await world.top_up(org, owner, 5_000, key="lost")
    assert (again.status_code, again.json()["code"], again.headers["idempotent-replayed"]) == (
        409, "request_abandoned", "true")
    assert await world.balance(org, owner) == 0
    # the provider refuses the voided reference from now on
    provider = world.app.state.webhooks.provider
    refused = await provider.charge(amount_minor=5_000, currency="CHF", token="tok_visa", reference=voids[0][0])
    assert (refused.status, refused.decline_reason) == (ChargeStatus.DECLINED, "voided")


async def test_bil_02_a_retry_within_the_window_gets_the_charge_once_and_nothing_is_voided(world, monkeypatch):
    voids, org, owner = await top_up_crashing_after_the_charge(world, monkeypatch, "retried")
    world.clock.advance(minutes=5)
    assert (await world.top_up(org, owner, 5_000, key="retried")).status_code == 201
    world.clock.advance(minutes=60)
    assert await world.app.state.payment_sweeper.sweep_once() == 0 and voids == []
    assert await world.balance(org, owner) == 5_000


async def test_bil_03_an_abandoned_3_d_secure_payment_cannot_complete_later(world, monkeypatch):
    voids = record_voids(world, monkeypatch)
    org, owner = await world.organization()
    await world.top_up(org, owner, 1_000)
    bill = await invoice(world, org, 4_000)
    provider, challenges = world.app.state.webhooks.provider, []
    real_charge = provider.charge

    async def charge(**kw):
        result = await real_charge(**kw)
        challenges.append(result.provider_payment_id)
        return result
    monkeypatch.setattr(provider, "charge", charge)
    with monkeypatch.context() as m:
        crash_after_the_charge(world, m)  # the prepaid part's hold fails after the 3-D Secure charge began
        assert await failing(pay(world, org, owner, [bill], token="tok_3ds", key="3ds")) == 500
    world.clock.advance(minutes=16)
    assert await world.app.state.payment_sweeper.sweep_once() == 1 and [v for _, v in voids] == [True]
    # the cardholder completes the challenge afterwards: the provider reports it failed, nothing is paid
    done = await world.c.post(f"/v1/payments/local/challenges/{challenges[0]}", json={"outcome": "succeeded"},
                              headers=world.h(owner, None))
    assert done.status_code == 200
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 1_000


@pytest.mark.parametrize("code", ["done", "in_progress"])
async def test_bil_02_answered_keys_and_running_requests_are_left_alone(world, monkeypatch, code):
    voids = record_voids(world, monkeypatch)
    org, owner = await world.organization()
    if code == "done":
        assert (await world.top_up(org, owner, 5_000, key="k")).status_code == 201
    else:
        from billing.prepaid.idempotency import fingerprint

        body = {"amount_minor": 5_000, "currency": "CHF", "card_token": "tok_visa"}
        await world.app.state.idempotency.claim(f"{owner}:{org}", "k", fingerprint(
            "POST", f"/v1/organizations/{org}/prepaid/top-ups", body))
    world.clock.advance(seconds=50)  # a running request's lease (60 s) has not passed
    if code == "done":
        world.clock.advance(hours=2)
    assert await world.app.state.payment_sweeper.sweep_once() == 0 and voids == []


async def test_bil_10_a_payout_started_by_an_abandoned_withdrawal_is_voided(world, monkeypatch):
    """The PSP accepted the payout, then the withdrawal's unit of work failed:
    the balance was not debited, so the payout must not settle. Closing the
    key voids it, and the provider then reports it failed."""
    voids = record_voids(world, monkeypatch)
    org, owner = await world.organization()
    await world.top_up(org, owner, 3_000)
    provider, payouts = world.app.state.webhooks.provider, []
    real = provider.payout

    async def payout_then_the_database_goes(**kw):
        payouts.append((await real(**kw)).provider_ref)
        raise DatabaseWentAway()
    with monkeypatch.context() as m:
        m.setattr(provider, "payout", payout_then_the_database_goes)
        r = world.withdraw(org, owner, 3_000, key="gone", destination="iban", iban="CH93 0076 2011 6238 5295 7",
                           account_holder="Muster AG")
        assert await failing(r) == 500
    assert await world.balance(org, owner) == 3_000
    world.clock.advance(minutes=16)
    assert not provider.voided(payouts[0])
    assert await world.app.state.payment_sweeper.sweep_once() == 1 and [v for _, v in voids] == [True]
    assert provider.voided(payouts[0])  # the provider will report it failed: the money never leaves
    settled = await world.c.post(f"/v1/payments/local/settlements/{payouts[0]}", json={"outcome": "succeeded"},
                                 headers=world.h(owner, None, scope="billing"))
    assert settled.status_code == 200, settled.text
    assert await world.balance(org, owner) == 3_000
