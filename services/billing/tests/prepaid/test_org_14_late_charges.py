"""ORG-14 with BIL-02/03: a card charge confirmed by 3-D Secure after the
organization was deleted is refunded to the card, not credited to a balance
nobody can use or withdraw; before the deletion it still lands on the balance."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from billing.models import BillingAccount
from billing.payments.models import PaymentAttempt
from billing.prepaid import ledger
from billing.prepaid.models import TopUp
from manager_shared.events import OrganizationDeleted, Recipient
from manager_shared.testing.fixtures import feed

from .test_bil_03_pay_selection import invoice, pay


def deleted(org: uuid.UUID, owner: uuid.UUID) -> OrganizationDeleted:
    return OrganizationDeleted(organization_id=org, name="Muster AG", deleted_by=owner, send_paid_invoices=False,
                               requester=Recipient(account_id=owner, email="owner@example.ch", language="de"),
                               org_version=9)


def record_refunds(world, monkeypatch) -> list[dict]:
    """The provider's refunds, as it was asked for them (the local provider answers as a PSP would)."""
    provider, calls = world.app.state.webhooks.provider, []
    real = provider.refund

    async def refund(**kw):
        calls.append(kw)
        return await real(**kw)
    monkeypatch.setattr(provider, "refund", refund)
    return calls


async def ledger_balance(world, org) -> int:
    async with world.app.state.runtime.db.transaction() as s:
        return await ledger.ledger_sum(s, org)


async def row(world, model, id_):
    async with world.app.state.runtime.db.transaction() as s:
        return await s.get(model, uuid.UUID(id_))


async def challenge(world, r, owner, outcome: str = "succeeded"):
    answer = await world.c.post(r.json()["action_url"], json={"outcome": outcome}, headers=world.h(owner, None))
    assert answer.status_code == 200, answer.text


async def test_org_14_deletion_closes_the_billing_account_once(world):
    org, owner = await world.organization()
    await feed(world.app, deleted(org, owner))
    async with world.app.state.runtime.db.transaction() as s:
        closed = (await s.execute(sa.select(BillingAccount.closed_at).where(
            BillingAccount.organization_id == org))).scalar_one()
    assert closed == world.clock.now()
    world.clock.advance(minutes=5)
    await feed(world.app, deleted(org, owner))  # delivered again: the first closing time stays
    async with world.app.state.runtime.db.transaction() as s:
        again = (await s.execute(sa.select(BillingAccount.closed_at).where(
            BillingAccount.organization_id == org))).scalar_one()
    assert again == closed


async def test_org_14_a_top_up_confirmed_after_the_deletion_goes_back_to_the_card(world, monkeypatch):
    refunds = record_refunds(world, monkeypatch)
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 4_000, token="tok_3ds")
    assert r.status_code == 202
    await feed(world.app, deleted(org, owner))
    await challenge(world, r, owner)
    await challenge(world, r, owner)  # the provider's webhook again (a new delivery): nothing more happens
    top_up = await row(world, TopUp, r.json()["id"])
    assert (top_up.status, top_up.failure_reason) == ("refunded", "organization_deleted")
    assert await ledger_balance(world, org) == 0
    assert [(c["provider_payment_id"], c["amount_minor"], c["currency"]) for c in refunds] == [
        (top_up.provider_payment_id, 4_000, "CHF")]


async def test_org_14_a_payment_confirmed_after_expiry_and_deletion_goes_back_to_the_card(world, monkeypatch):
    refunds = record_refunds(world, monkeypatch)
    org, owner = await world.organization()
    await world.top_up(org, owner, 1_000)
    bill = await invoice(world, org, 5_000)
    r = await pay(world, org, owner, [bill], token="tok_3ds")
    assert r.status_code == 202
    world.clock.advance(minutes=31)
    assert await world.app.state.payment_sweeper.sweep_once() == 1  # abandoned: its prepaid hold given back
    await feed(world.app, deleted(org, owner))
    await challenge(world, r, owner)
    attempt = await row(world, PaymentAttempt, r.json()["id"])
    assert attempt.status == "refunded"
    assert await ledger_balance(world, org) == 1_000  # the hold came back; the card's part did not land here
    assert [(c["provider_payment_id"], c["amount_minor"]) for c in refunds] == [
        (attempt.provider_payment_id, r.json()["card_minor"])]


async def test_org_14_before_the_deletion_a_late_charge_still_lands_on_the_balance(world, monkeypatch):
    refunds = record_refunds(world, monkeypatch)
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 4_000, token="tok_3ds")
    world.clock.advance(minutes=31)
    await world.app.state.payment_sweeper.sweep_once()
    await challenge(world, r, owner)
    assert (await row(world, TopUp, r.json()["id"])).status == "succeeded"
    assert await ledger_balance(world, org) == 4_000 and refunds == []
