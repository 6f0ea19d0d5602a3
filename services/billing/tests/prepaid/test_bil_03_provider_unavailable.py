"""BIL-02/03/10 when the payment provider does not answer: 503
payment_provider_unavailable with Retry-After, nothing recorded, the
Idempotency-Key released (not answered). The same request again reaches the
provider with the same reference, and the provider's own record of the
first try decides. So a charge whose answer was lost is neither lost nor
doubled, and neither is a payout."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from billing.payments.provider import ProviderUnavailable
from billing.prepaid.models import TopUp

from .test_bil_03_pay_selection import invoice, pay, statuses


def unavailable(r) -> bool:
    return (r.status_code, r.json()["code"], r.headers.get("retry-after")) == (
        503, "payment_provider_unavailable", "5")


async def top_ups_of(world, org) -> list[TopUp]:
    async with world.app.state.runtime.db.transaction() as s:
        return list((await s.execute(sa.select(TopUp).where(TopUp.organization_id == org))).scalars())


async def test_bil_02_provider_down_records_nothing_and_the_key_can_be_used_again(world):
    org, owner = await world.organization()
    for _ in range(2):  # the same request again runs again: the 503 was not stored as the key's answer
        r = await world.top_up(org, owner, 5_000, token="tok_provider_down", key="same-key")
        assert unavailable(r), r.text
        assert r.headers.get("idempotent-replayed") != "true"
    assert await world.balance(org, owner) == 0 and await top_ups_of(world, org) == []


async def test_bil_02_a_top_up_whose_answer_was_lost_is_credited_once_on_retry(world):
    org, owner = await world.organization()
    first = await world.top_up(org, owner, 5_000, token="tok_answer_lost", key="k1")
    assert unavailable(first) and await world.balance(org, owner) == 0
    # charged at the provider: the retry (same key, so the same reference) gets that charge, not a new one
    second = await world.top_up(org, owner, 5_000, token="tok_answer_lost", key="k1")
    assert second.status_code == 201, second.text
    replay = await world.top_up(org, owner, 5_000, token="tok_answer_lost", key="k1")
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (201, "true")
    assert await world.balance(org, owner) == 5_000
    assert [t.status for t in await top_ups_of(world, org)] == ["succeeded"]


async def test_bil_03_a_payment_whose_card_answer_was_lost_takes_the_prepaid_part_once(world):
    org, owner = await world.organization()
    await world.top_up(org, owner, 2_000)
    bill = await invoice(world, org, 9_000)
    first = await pay(world, org, owner, [bill], token="tok_answer_lost", key="p1")
    assert unavailable(first)
    assert await statuses(world, bill) == ["open"] and await world.balance(org, owner) == 2_000
    second = await pay(world, org, owner, [bill], token="tok_answer_lost", key="p1")
    assert second.status_code == 201, second.text
    assert (second.json()["prepaid_minor"], second.json()["card_minor"]) == (2_000, bill.total_minor - 2_000)
    assert await statuses(world, bill) == ["paid"] and await world.balance(org, owner) == 0


async def test_bil_10_a_withdrawal_retried_after_a_lost_answer_reuses_the_provider_reference(world, monkeypatch):
    org, owner = await world.organization()
    await world.top_up(org, owner, 3_000)
    provider, references = world.app.state.webhooks.provider, []
    real = provider.refund

    async def refund_answer_lost_once(**kw):
        references.append(kw["reference"])
        result = await real(**kw)  # the provider accepted the refund...
        if len(references) == 1:
            raise ProviderUnavailable()  # ...but its answer did not arrive
        return result
    monkeypatch.setattr(provider, "refund", refund_answer_lost_once)
    first = await world.withdraw(org, owner, 3_000, key="w1")
    assert unavailable(first) and await world.balance(org, owner) == 3_000  # nothing debited
    second = await world.withdraw(org, owner, 3_000, key="w1")
    assert second.status_code == 202, second.text
    assert await world.balance(org, owner) == 0
    # the provider sees the same reference twice: its idempotency makes the second one the first refund
    assert len(references) == 2 and references[0] == references[1]
    other = await world.top_up(org, owner, 1_000)
    assert other.status_code == 201
    await world.withdraw(org, owner, 1_000, key=uuid.uuid4().hex)
    assert len(set(references)) == 2  # another request, another reference
