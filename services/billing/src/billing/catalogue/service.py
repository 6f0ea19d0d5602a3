"""The catalogue's rules: prices at a time, price versions, which offer bills
a product. Records nothing on the outbox; never commits."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import Database, insert_if_absent

from ..money import CURRENCIES
from . import repository as repo
from .errors import OfferNotFound, PriceNotFound, PriceStartInPast, PriceVersionExists, UnsupportedCurrency
from .models import CatalogueOffer, CataloguePrice
from .periods import check_quantity, months_of

SEED = Path(__file__).with_name("seed_offers.json")  # not under data/: .gitignore keeps SQLite files there


@dataclass(frozen=True)
class Price:
    """The price of one unit of an offer for one period, as in force at a time."""

    offer_code: str
    currency: str
    period: str
    unit_price_minor: int
    min_quantity: int
    vat_category: str
    valid_from: dt.datetime


def offer_code_for(kind: str, name: str) -> list[str]:
    """Offer codes that could bill a product, most specific first: a domain
    renews at its TLD's renew offer (`example.co.uk` → domain.co.uk.renew,
    then domain.uk.renew); any other kind at `<kind>.standard` (else at the
    kind's first renewing offer by code, see `Catalogue.billing_offer`)."""
    if kind == "domain":
        labels = name.lower().rstrip(".").split(".")[1:]
        return [f"domain.{'.'.join(labels[i:])}.renew" for i in range(len(labels))]
    return [f"{kind}.standard"]


@dataclass
class Catalogue:
    clock: Clock

    async def offer(self, session: AsyncSession, code: str) -> CatalogueOffer:
        found = await repo.offer(session, code)
        if found is None:
            raise OfferNotFound(offer_code=code)
        return found

    async def price(self, session: AsyncSession, offer_code: str, currency: str, period: str, *,
                    quantity: int = 1, at: dt.datetime | None = None) -> Price:
        """The unit price in force at `at` (now by default); 422
        `period_not_available` under the period's minimum quantity."""
        months_of(period)
        if currency not in CURRENCIES:
            raise UnsupportedCurrency(currency=currency)
        offer = await self.offer(session, offer_code)
        row = await repo.price_at(session, offer_code, currency, period, at or self.clock.now())
        if row is None:
            raise PriceNotFound(offer_code=offer_code, currency=currency, period=period)
        check_quantity(period, quantity, row.min_quantity)
        return Price(offer.code, currency, period, row.unit_price_minor, row.min_quantity, offer.vat_category,
                     row.valid_from)

    async def listing(self, session: AsyncSession, kind: str | None = None) -> list[tuple[
            CatalogueOffer, list[CataloguePrice], list[CataloguePrice]]]:
        """Every offer (or one kind's) with its prices, as `with_prices`."""
        return await self.with_prices(session, list(await repo.offers(session, kind)))

    async def with_prices(self, session: AsyncSession, offers: list[CatalogueOffer],
                          at: dt.datetime | None = None) -> list[tuple[CatalogueOffer, list[CataloguePrice],
                                                                        list[CataloguePrice]]]:
        """Each offer with its prices in force at `at` and those announced for later."""
        at = at or self.clock.now()
        rows = await repo.prices_of(session, [o.code for o in offers])
        result = []
        for offer in offers:
            current: dict[tuple[str, str], CataloguePrice] = {}
            later = []
            for row in (r for r in rows if r.offer_code == offer.code):
                if row.valid_from <= at:
                    current[(row.currency, row.period)] = row  # oldest first: the last one wins
                else:
                    later.append(row)
            result.append((offer, sorted(current.values(), key=_price_order), later))
        return result

    async def add_price(self, session: AsyncSession, offer_code: str, *, currency: str, period: str,
                        unit_price_minor: int, min_quantity: int, valid_from: dt.datetime | None,
                        created_by: uuid.UUID) -> CataloguePrice:
        """A new price version (operators): it applies to invoices issued from
        `valid_from` on (now by default), never to the past."""
        await self.offer(session, offer_code)
        months_of(period)
        if currency not in CURRENCIES:
            raise UnsupportedCurrency(currency=currency)
        now = self.clock.now()
        start = valid_from or now
        if start < now - dt.timedelta(minutes=1):  # a minute of clock skew between operator and server
            raise PriceStartInPast()
        row = CataloguePrice(offer_code=offer_code, currency=currency, period=period,
                             unit_price_minor=unit_price_minor, min_quantity=min_quantity, valid_from=start,
                             created_at=now, created_by=created_by)
        values = row.model_dump()
        if not await insert_if_absent(session, CataloguePrice.__table__, values):
            raise PriceVersionExists(offer_code=offer_code, currency=currency, period=period)
        return row

    async def billing_offer(self, session: AsyncSession, kind: str, name: str) -> CatalogueOffer | None:
        """The renewing offer that bills a product of this kind and name, if any."""
        for code in offer_code_for(kind, name):
            found = await repo.offer(session, code)
            if found is not None and found.renews:
                return found
        if kind == "domain":  # a TLD the catalogue does not sell is not billed
            return None
        # a kind without a `.standard` offer: its first renewing offer by code
        return next((o for o in await repo.offers(session, kind) if o.renews), None)

    async def seed(self, db: Database, path: Path = SEED) -> int:
        """Load the seed catalogue; rows already there stay as they are
        (idempotent, safe with several replicas starting at once)."""
        doc = json.loads(path.read_text())
        valid_from, now = dt.datetime.fromisoformat(doc["valid_from"]), self.clock.now()
        offers, prices = [], []
        for item in doc["offers"]:
            offers.append({"code": item["code"], "kind": item["kind"], "name": item["name"],
                           "vat_category": item["vat_category"], "renews": item["renews"], "created_at": now})
            for period, amounts in item["prices"].items():
                for currency, minor in amounts.items():
                    prices.append({"id": uuid.uuid4(), "offer_code": item["code"], "currency": currency,
                                   "period": period, "unit_price_minor": minor, "valid_from": valid_from,
                                   "min_quantity": item.get("min_quantity", {}).get(period, 1), "created_at": now})
        async with db.transaction() as session:
            await insert_if_absent(session, CatalogueOffer.__table__, offers)
            await insert_if_absent(session, CataloguePrice.__table__, prices)
        return len(offers)


def _price_order(row: CataloguePrice) -> tuple[str, int]:
    return row.currency, months_of(row.period)
