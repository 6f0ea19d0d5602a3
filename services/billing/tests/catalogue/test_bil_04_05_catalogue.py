"""The catalogue (issue 11): seeded offers, versioned prices, the minimum
quantity of a period (BIL-05), operators' price versions; SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from billing.catalogue.errors import OfferNotFound, PeriodNotAvailable, PriceNotFound
from billing.catalogue.models import CatalogueOffer, CataloguePrice
from billing.catalogue.service import offer_code_for


async def test_bil_04_seed_catalogue_loaded_once_and_again_changes_nothing(app):
    catalogue, db = app.state.catalogue, app.state.runtime.db
    await catalogue.seed(db)  # a second start (or replica) loads it again
    async with db.transaction() as s:
        offers = (await s.execute(sa.select(sa.func.count()).select_from(CatalogueOffer))).scalar_one()
        prices = (await s.execute(sa.select(CataloguePrice.offer_code, CataloguePrice.currency,
                                            CataloguePrice.period))).all()
    assert offers >= 29 and len(prices) == len(set(prices))
    codes = {p[0] for p in prices}
    assert {"domain.ch.register", "domain.ch.renew", "domain.ch.restore", "mail_service.standard",
            "support_premium.business"} <= codes


async def test_bil_05_price_lookup_and_minimum_quantity(app):
    catalogue, db = app.state.catalogue, app.state.runtime.db
    async with db.transaction() as s:
        price = await catalogue.price(s, "mail_service.standard", "CHF", "monthly", quantity=5)
        assert (price.unit_price_minor, price.min_quantity, price.vat_category) == (150, 5, "standard")
        assert (await catalogue.price(s, "domain.ch.renew", "EUR", "yearly")).unit_price_minor > 0
        with pytest.raises(PeriodNotAvailable) as refused:
            await catalogue.price(s, "mail_service.standard", "CHF", "monthly", quantity=4)
        assert (refused.value.status, refused.value.code) == (422, "period_not_available")
        with pytest.raises(OfferNotFound) as missing:
            await catalogue.price(s, "domain.zz.renew", "CHF", "yearly")
        assert (missing.value.status, missing.value.code) == (404, "offer_not_found")
        with pytest.raises(PriceNotFound):
            await catalogue.price(s, "domain.ch.renew", "CHF", "monthly")


async def test_bil_04_price_change_applies_from_its_start_only(app, clock):
    """The price at a time is the latest version not after it: invoices
    issued before a change keep the old price, those after get the new one."""
    catalogue, db = app.state.catalogue, app.state.runtime.db
    start = clock.now() + timedelta(days=30)
    async with db.transaction() as s:
        await catalogue.add_price(s, "domain.ch.renew", currency="CHF", period="yearly", unit_price_minor=1290,
                                  min_quantity=1, valid_from=start, created_by=uuid.uuid4())
    async with db.transaction() as s:
        before = await catalogue.price(s, "domain.ch.renew", "CHF", "yearly", at=start - timedelta(seconds=1))
        at = await catalogue.price(s, "domain.ch.renew", "CHF", "yearly", at=start)
        later = await catalogue.price(s, "domain.ch.renew", "CHF", "yearly", at=start + timedelta(days=400))
    assert (before.unit_price_minor, at.unit_price_minor, later.unit_price_minor) == (1100, 1290, 1290)


def test_bil_04_offer_codes_for_products():
    assert offer_code_for("domain", "Example.CH") == ["domain.ch.renew"]
    assert offer_code_for("domain", "shop.example.co.uk") == ["domain.example.co.uk.renew", "domain.co.uk.renew",
                                                              "domain.uk.renew"]
    assert offer_code_for("mail_service", "mail-1") == ["mail_service.standard"]


async def test_bil_04_catalogue_api_for_any_signed_in_user(app, client, tokens):
    anyone = uuid.uuid4()
    r = await client.get("/v1/catalogue/offers", params={"kind": "domain"}, headers=tokens.headers(anyone))
    assert r.status_code == 200
    offers = {o["code"]: o for o in r.json()}
    assert "domain.ch.renew" in offers and all(o["kind"] == "domain" for o in offers.values())
    r = await client.get("/v1/catalogue/offers/mail_service.standard", headers=tokens.headers(anyone))
    monthly = [p for p in r.json()["prices"] if p["period"] == "monthly" and p["currency"] == "CHF"]
    assert r.status_code == 200 and monthly[0]["min_quantity"] == 5 and monthly[0]["unit_price_minor"] == 150
    r = await client.get("/v1/catalogue/offers/domain.zz.renew", headers=tokens.headers(anyone))
    assert (r.status_code, r.json()["code"]) == (404, "offer_not_found")
    assert (await client.get("/v1/catalogue/offers")).status_code == 401


async def test_bil_04_operator_adds_a_price_version(app, client, tokens, clock):
    operator, customer = uuid.uuid4(), uuid.uuid4()
    url = "/v1/catalogue/offers/domain.com.renew/prices"
    start = (clock.now() + timedelta(days=10)).isoformat()
    body = {"currency": "EUR", "period": "yearly", "unit_price_minor": 1999, "valid_from": start}
    r = await client.post(url, json=body, headers=tokens.headers(customer))
    assert (r.status_code, r.json()["code"]) == (403, "billing_operator_only")
    r = await client.post(url, json=body, headers=tokens.headers(operator, scope="billing"))
    assert r.status_code == 201 and r.json()["unit_price_minor"] == 1999
    r = await client.post(url, json=body, headers=tokens.headers(operator, scope="billing"))
    assert (r.status_code, r.json()["code"]) == (409, "price_version_exists")
    past = {**body, "valid_from": (clock.now() - timedelta(days=1)).isoformat()}
    r = await client.post(url, json=past, headers=tokens.headers(operator, scope="billing"))
    assert (r.status_code, r.json()["code"]) == (422, "price_valid_from_in_past")
    for bad in ({**body, "unit_price_minor": -1}, {**body, "currency": "USD"}, {**body, "period": "weekly"},
                {**body, "unit_price_minor": 12.5}):
        r = await client.post(url, json=bad, headers=tokens.headers(operator, scope="billing"))
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    r = await client.get("/v1/catalogue/offers/domain.com.renew", headers=tokens.headers(customer))
    assert [p["unit_price_minor"] for p in r.json()["upcoming_prices"]] == [1999]
    r = await client.post("/v1/catalogue/offers/domain.zz.renew/prices", json=body,
                          headers=tokens.headers(operator, scope="billing"))
    assert (r.status_code, r.json()["code"]) == (404, "offer_not_found")


async def test_x_03_price_times_have_an_offset(app, client, tokens):
    from manager_shared.testing.times import assert_times_have_offsets

    r = await client.get("/v1/catalogue/offers/domain.ch.renew", headers=tokens.headers(uuid.uuid4()))
    assert r.status_code == 200
    assert_times_have_offsets(r.json())
    assert datetime.fromisoformat(r.json()["prices"][0]["valid_from"]) == datetime(2020, 1, 1, tzinfo=timezone.utc)


async def test_bil_04_price_in_force_is_the_latest_version_not_after_the_time(app, clock):
    """Random price versions (seeded, reproducible) against the rule computed
    in Python, at random times and exactly at each start."""
    import random

    rng = random.Random(11)
    catalogue, db, now = app.state.catalogue, app.state.runtime.db, clock.now()
    versions = {now - dt_days(365 * 3): 1590}  # the seed's version, from 2020-01-01
    starts = sorted({now + dt_days(rng.randint(0, 900)) + timedelta(seconds=rng.randint(0, 86399))
                     for _ in range(25)})
    async with db.transaction() as s:
        for start in starts:
            versions[start] = rng.randint(0, 100_000)
            await catalogue.add_price(s, "domain.com.renew", currency="CHF", period="yearly",
                                      unit_price_minor=versions[start], min_quantity=1, valid_from=start,
                                      created_by=uuid.uuid4())
    times = starts + [t - timedelta(microseconds=1) for t in starts] + [
        now + dt_days(rng.randint(0, 1000)) for _ in range(40)]
    async with db.transaction() as s:
        for at in times:
            expected = versions[max(v for v in versions if v <= at)]
            assert (await catalogue.price(s, "domain.com.renew", "CHF", "yearly", at=at)).unit_price_minor == expected


def dt_days(n: int) -> timedelta:
    return timedelta(days=n)
