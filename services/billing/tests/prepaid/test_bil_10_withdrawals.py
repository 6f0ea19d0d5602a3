"""BIL-10: the prepaid balance is withdrawn to the cards it came from
(oldest top-ups first) or to an IBAN; debited at once, never more than the
balance, pending until the provider confirms; a failed payout is credited back."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from billing.prepaid.models import WithdrawalPart


async def settle(world, ref: str, outcome: str):
    operator = uuid.uuid4()
    return await world.c.post(f"/v1/payments/local/settlements/{ref}", json={"outcome": outcome},
                              headers=world.h(operator, None, scope="billing"))


async def refs(world, withdrawal_id: str) -> list[str]:
    async with world.app.state.runtime.db.transaction() as s:
        return list((await s.execute(sa.select(WithdrawalPart.provider_ref).where(
            WithdrawalPart.withdrawal_id == uuid.UUID(withdrawal_id))
            .order_by(WithdrawalPart.amount_minor.desc()))).scalars())


async def test_bil_10_withdraw_to_cards_oldest_top_up_first(world):
    org, owner = await world.organization()
    first = (await world.top_up(org, owner, 3_000)).json()["id"]
    world.clock.advance(minutes=1)
    second = (await world.top_up(org, owner, 5_000)).json()["id"]
    r = await world.withdraw(org, owner, 4_000)
    assert (r.status_code, r.json()["status"]) == (202, "pending")
    assert [(p["top_up_id"], p["amount_minor"]) for p in r.json()["parts"]] == [(first, 3_000), (second, 1_000)]
    assert await world.balance(org, owner) == 4_000  # debited at once
    for ref in await refs(world, r.json()["id"]):
        assert (await settle(world, ref, "succeeded")).json() == {"status": "applied"}
    done = await world.c.get(f"/v1/organizations/{org}/prepaid/withdrawals/{r.json()['id']}",
                             headers=world.h(owner, None))
    assert done.json()["status"] == "completed"
    [completed] = await world.events("PrepaidWithdrawalCompleted")
    assert (completed.amount_minor, completed.destination) == (4_000, "card")
    # what is left can go back too; more than the balance cannot
    r = await world.withdraw(org, owner, 4_001)
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_prepaid_balance")
    assert (await world.withdraw(org, owner, 4_000)).json()["parts"][0]["top_up_id"] == second
    assert await world.balance(org, owner) == 0


async def test_bil_10_failed_payout_is_credited_back(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 3_000)
    world.clock.advance(minutes=1)
    await world.top_up(org, owner, 2_000)
    r = await world.withdraw(org, owner, 5_000)
    big, small = await refs(world, r.json()["id"])
    await settle(world, big, "succeeded")
    await settle(world, small, "failed")
    await settle(world, small, "failed")  # a re-sent fact changes nothing
    assert await world.balance(org, owner) == 2_000
    [failed] = await world.events("PrepaidWithdrawalFailed")
    assert (failed.credited_back_minor, failed.balance_minor) == (2_000, 2_000)
    status = await world.c.get(f"/v1/organizations/{org}/prepaid/withdrawals/{r.json()['id']}",
                               headers=world.h(owner, None))
    assert status.json()["status"] == "partially_failed"
    # the card whose refund failed can take it back later
    again = await world.withdraw(org, owner, 2_000)
    assert again.status_code == 202


async def test_bil_10_withdraw_to_an_iban(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 9_000)
    cases = [({"destination": "iban", "iban": "CH93 0076 2011 6238 5295 8"}, 422, "invalid_iban"),
             ({"destination": "iban", "iban": "CH93 0076 2011 6238 5295 7"}, 422, "account_holder_required"),
             ({"destination": "card", "amount_minor": 9_001}, 409, "insufficient_prepaid_balance"),
             ({"destination": "card", "amount_minor": 0}, 422, "amount_not_positive"),
             ({"destination": "card", "currency": "EUR"}, 422, "currency_mismatch")]
    for extra, status, code in cases:
        r = await world.withdraw(org, owner, extra.pop("amount_minor", 1_000), currency=extra.pop("currency", "CHF"),
                                 **extra)
        assert (r.status_code, r.json()["code"]) == (status, code), code
    assert await world.balance(org, owner) == 9_000
    r = await world.withdraw(org, owner, 9_000, destination="iban", iban="CH93 0076 2011 6238 5295 7",
                             account_holder="Muster AG")
    assert (r.status_code, r.json()["iban_last4"]) == (202, "2957")
    assert await world.balance(org, owner) == 0
    [ref] = await refs(world, r.json()["id"])
    assert ref.startswith("lpo_")
    await settle(world, ref, "failed")
    assert await world.balance(org, owner) == 9_000


async def test_bil_10_more_than_the_cards_took_needs_an_iban(world):
    """Money credited otherwise (a credit note's refund) cannot go to a card."""
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    async with world.app.state.runtime.db.transaction() as s:
        await world.app.state.prepaid.credit(s, org, 1_000, "CHF", kind="refund", cause="credit note",
                                             reference="cn-1")
    r = await world.withdraw(org, owner, 3_000)
    assert (r.status_code, r.json()["code"], r.json()["refundable_minor"]) == (
        422, "withdrawal_exceeds_card_top_ups", 2_000)
    assert await world.balance(org, owner) == 3_000


async def test_bil_10_settlements_are_for_operators(world):
    r = await world.c.post("/v1/payments/local/settlements/lre_x", json={"outcome": "succeeded"},
                           headers=world.h(uuid.uuid4(), None))
    assert (r.status_code, r.json()["code"]) == (403, "billing_scope_required")


async def test_bil_10_unknown_ids_have_stable_codes(world):
    org, owner = await world.organization()
    other, other_owner = await world.organization()
    top_up = (await world.top_up(other, other_owner, 2_000)).json()["id"]
    withdrawal = (await world.withdraw(other, other_owner, 1_000)).json()["id"]
    base = f"/v1/organizations/{org}"
    for path, code in ((f"/prepaid/top-ups/{top_up}", "top_up_not_found"),
                       (f"/prepaid/withdrawals/{withdrawal}", "withdrawal_not_found"),
                       (f"/payments/{uuid.uuid4()}", "payment_not_found")):
        r = await world.c.get(base + path, headers=world.h(owner, None))
        assert (r.status_code, r.json()["code"]) == (404, code), path
