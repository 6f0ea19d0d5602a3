"""Subscriptions opened from the product registry, the renewals list and the
one-switch settings (BIL-04), period changes over HTTP (BIL-05); SQLite and
PostgreSQL."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from billing.catalogue.models import Subscription
from manager_shared.events import MemberAdded, MemberRightsChanged, ProductDeprovisioned, ProductProvisioned
from manager_shared.testing.fixtures import feed

D = dt.date


async def subscription(app, product_id) -> Subscription | None:
    async with app.state.runtime.db.transaction() as s:
        return await s.get(Subscription, product_id)


async def test_bil_04_product_provisioned_opens_a_subscription_once(app, new_org, recorded):
    org, _ = await new_org(app)
    product = uuid.uuid4()
    event = ProductProvisioned(product_id=product, organization_id=org, kind="domain", name="example.ch")
    same_fact_again = ProductProvisioned(product_id=product, organization_id=org, kind="domain", name="example.ch")
    assert await feed(app, event, event, same_fact_again) == ["processed", "duplicate", "processed"]
    sub = await subscription(app, product)
    assert (sub.offer_code, sub.status, sub.period, sub.term_start, sub.term_end) == (
        "domain.ch.renew", "active", "yearly", D(2023, 1, 1), D(2024, 1, 1))
    assert (sub.auto_renew, sub.renewal_warranty, sub.next_period) == (False, False, None)
    opened = await recorded(app, "SubscriptionOpened")
    assert [(e["product_id"], e["offer_code"], e["term_end"], e["key"]) for e in opened] == [
        (str(product), "domain.ch.renew", "2024-01-01", str(product))]


async def test_bil_04_kind_without_offer_is_recorded_not_billable(app, new_org, provision, recorded):
    org, _ = await new_org(app)
    ticketing = await provision(app, org, kind="ticketing", name="helpdesk")
    unknown_tld = await provision(app, org, kind="domain", name="example.zz")
    for product in (ticketing, unknown_tld):
        sub = await subscription(app, product)
        assert (sub.status, sub.offer_code) == ("not_billable", None)
    assert await recorded(app, "SubscriptionOpened") == []


async def test_bil_04_deprovisioned_product_is_not_renewed(app, new_org, provision, recorded, client, tokens):
    org, owner = await new_org(app)
    product = await provision(app, org, kind="hosting", name="site-1")
    gone = ProductDeprovisioned(product_id=product, organization_id=org)
    await feed(app, gone, ProductDeprovisioned(product_id=product, organization_id=org))
    assert (await subscription(app, product)).status == "closed"
    assert len(await recorded(app, "SubscriptionClosed")) == 1
    r = await client.get(f"/v1/organizations/{org}/renewals?show_all=true", headers=tokens.headers(owner))
    assert r.json()["items"] == []


async def test_bil_04_renewals_due_in_two_months_by_default_show_all_on_demand(app, new_org, provision, client,
                                                                                tokens, clock):
    org, owner = await new_org(app)
    clock.advance(days=-300)  # 2022-03-07: a yearly hosting ending 2023-03-07
    soon = await provision(app, org, kind="hosting", name="site-soon")
    clock.advance(days=300)  # 2023-01-01: a domain ending 2024-01-01
    later = await provision(app, org, kind="domain", name="later.ch")
    url = f"/v1/organizations/{org}/renewals"
    r = await client.get(url, headers=tokens.headers(owner))
    assert r.status_code == 200 and r.json()["due_before"] == "2023-03-01"
    # 2023-03-07 is after the two months: nothing yet
    assert [i["subscription"]["product_id"] for i in r.json()["items"]] == []
    clock.advance(days=10)
    r = await client.get(url, headers=tokens.headers(owner))
    [item] = r.json()["items"]
    assert item["subscription"]["product_id"] == str(soon)
    assert (item["next_term_start"], item["next_term_end"], item["renewal_period"]) == (
        "2023-03-07", "2024-03-07", "yearly")
    assert (item["currency"], item["unit_price_minor"], item["amount_minor"]) == ("CHF", 7500, 7500)
    r = await client.get(url, params={"show_all": "true"}, headers=tokens.headers(owner))
    assert [i["subscription"]["product_id"] for i in r.json()["items"]] == [str(soon), str(later)]
    assert r.json()["due_before"] is None


async def test_bil_04_accounting_right_needed_and_existence_not_revealed(app, new_org, provision, client, tokens):
    org, owner = await new_org(app)
    helper, accountant, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(app, MemberAdded(organization_id=org, account_id=helper, role="collaborator", org_version=3),
               MemberAdded(organization_id=org, account_id=accountant, role="collaborator", org_version=4),
               MemberRightsChanged(organization_id=org, account_id=accountant, grants=[], category_grants=[],
                                   full_access=False, accounting=True, changed_by=owner, org_version=5))
    product = await provision(app, org)
    other_org, other_owner = await new_org(app)
    renewals, one = f"/v1/organizations/{org}/renewals", f"/v1/organizations/{org}/subscriptions/{product}"
    for who in (helper, stranger, other_owner):
        r = await client.get(renewals, headers=tokens.headers(who))
        assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")
        r = await client.patch(one, json={"auto_renew": True}, headers=tokens.headers(who))
        assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")
    assert (await client.get(renewals, headers=tokens.headers(accountant))).status_code == 200
    # a product of another organization, asked through one's own: not found
    r = await client.patch(f"/v1/organizations/{other_org}/subscriptions/{product}", json={"auto_renew": True},
                           headers=tokens.headers(other_owner))
    assert (r.status_code, r.json()["code"]) == (404, "subscription_not_found")
    assert (await subscription(app, product)).auto_renew is False


async def test_bil_04_auto_renew_and_warranty_in_one_switch(app, new_org, provision, client, tokens, recorded):
    org, owner = await new_org(app)
    product = await provision(app, org)
    url = f"/v1/organizations/{org}/subscriptions/{product}"
    r = await client.patch(url, json={"auto_renew": True}, headers=tokens.headers(owner))
    assert r.status_code == 200 and r.json()["auto_renew"] is True
    r = await client.patch(url, json={"auto_renew": True, "renewal_warranty": True}, headers=tokens.headers(owner))
    assert r.json()["renewal_warranty"] is True
    r = await client.patch(url, json={"auto_renew": True}, headers=tokens.headers(owner))  # no change, no event
    changes = await recorded(app, "SubscriptionSettingsChanged")
    assert [(e["auto_renew"], e["renewal_warranty"]) for e in changes] == [(True, False), (True, True)]
    r = await client.patch(url, json={"auto_renew": "maybe"}, headers=tokens.headers(owner))
    assert r.status_code == 422


async def test_bil_05_seed_case_period_change_over_http_waits_for_the_term_end(app, new_org, provision, client,
                                                                             tokens, recorded, clock):
    """Hosting paid yearly on 1 January 2023; switched to monthly in June:
    the renewals list shows a monthly term from 1 January 2024."""
    org, owner = await new_org(app)
    product = await provision(app, org, kind="hosting", name="cloud-1")
    clock.advance(days=165)
    url = f"/v1/organizations/{org}/subscriptions/{product}"
    r = await client.patch(url, json={"period": "monthly"}, headers=tokens.headers(owner))
    assert r.status_code == 200
    assert (r.json()["period"], r.json()["next_period"], r.json()["term_end"]) == ("yearly", "monthly", "2024-01-01")
    [changed] = await recorded(app, "SubscriptionPeriodChanged")
    assert (changed["next_period"], changed["effective_from"]) == ("monthly", "2024-01-01")
    r = await client.get(f"/v1/organizations/{org}/renewals?show_all=true", headers=tokens.headers(owner))
    [item] = r.json()["items"]
    assert (item["next_term_start"], item["next_term_end"], item["unit_price_minor"]) == (
        "2024-01-01", "2024-02-01", 750)


async def test_bil_05_period_refused_under_minimum_or_not_sold(app, new_org, provision, client, tokens):
    org, owner = await new_org(app)
    mail = await provision(app, org, kind="mail_service", name="mail-1")  # one mailbox; monthly from 5
    domain = await provision(app, org)
    for product, period in ((mail, "monthly"), (domain, "quarterly")):
        r = await client.patch(f"/v1/organizations/{org}/subscriptions/{product}", json={"period": period},
                               headers=tokens.headers(owner))
        assert (r.status_code, r.json()["code"]) == (422, "period_not_available")
    r = await client.patch(f"/v1/organizations/{org}/subscriptions/{mail}", json={"period": "quarterly"},
                           headers=tokens.headers(owner))
    assert r.status_code == 200 and r.json()["next_period"] == "quarterly"
    async with app.state.runtime.db.transaction() as s:
        periods = (await s.execute(sa.select(Subscription.product_id, Subscription.next_period))).all()
    assert dict(periods) == {mail: "quarterly", domain: None}


async def test_bil_04_order_opens_the_paid_subscription_and_provisioning_changes_nothing(app, new_org, recorded):
    """The checkout (next issue) opens a subscription whose first term was
    paid; the product's ProductProvisioned afterwards finds it as it is."""
    org, _ = await new_org(app)
    product = uuid.uuid4()
    async with app.state.runtime.db.transaction() as s:
        sub = await app.state.subscriptions.open_paid(
            s, product_id=product, organization_id=org, kind="mail_service", name="mail-1",
            offer_code="mail_service.standard", period="monthly", quantity=5, term_start=D(2023, 1, 1),
            auto_renew=True)
        assert sub.term_end == D(2023, 2, 1)
    await feed(app, ProductProvisioned(product_id=product, organization_id=org, kind="mail_service", name="mail-1"))
    sub = await subscription(app, product)
    assert (sub.period, sub.quantity, sub.term_end, sub.auto_renew) == ("monthly", 5, D(2023, 2, 1), True)
    assert len(await recorded(app, "SubscriptionOpened")) == 1


async def test_bil_04_a_late_copy_of_provisioned_does_not_reopen_a_closed_subscription(app, new_org):
    org, _ = await new_org(app)
    product = uuid.uuid4()
    await feed(app, ProductProvisioned(product_id=product, organization_id=org, kind="drive", name="d"),
               ProductDeprovisioned(product_id=product, organization_id=org),
               ProductProvisioned(product_id=product, organization_id=org, kind="drive", name="d"))
    assert (await subscription(app, product)).status == "closed"


async def test_bil_04_parallel_switches_record_one_change(app, new_org, provision, client, tokens, recorded):
    """Ten identical switches at once (double clicks, retries): the row lock
    serialises them, so one changes the setting and records it, the others
    find it done."""
    import asyncio

    org, owner = await new_org(app)
    product = await provision(app, org)
    url = f"/v1/organizations/{org}/subscriptions/{product}"
    answers = await asyncio.gather(*(client.patch(url, json={"auto_renew": True, "period": "yearly"},
                                                  headers=tokens.headers(owner)) for _ in range(10)))
    assert [r.status_code for r in answers] == [200] * 10
    assert len(await recorded(app, "SubscriptionSettingsChanged")) == 1
