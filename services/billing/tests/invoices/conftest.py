"""Fixtures of the invoice tests: billing's app on SQLite and on a real
PostgreSQL, a frozen clock, organizations with their legal representative,
and helpers to issue and pay invoices through `app.state.invoices`."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

import httpx
import pytest

from billing.config import Settings
from billing.invoices.service import LineDraft
from billing.main import create_app
from manager_shared.clock import FrozenClock
from manager_shared.events import MemberAdded, OrganizationCreated, OrganizationDetailsChanged, PostalAddress
from manager_shared.testing.fixtures import feed
from manager_shared.testing.tokens import TestTokens

ADDRESSES = {"CH": ("Bahnhofstrasse 1", "8001", "Zürich"), "DE": ("Unter den Linden 5", "10117", "Berlin"),
             "FR": ("1 rue de Rivoli", "75001", "Paris"), "IT": ("Via Roma 1", "00184", "Roma"),
             "AT": ("Ring 1", "1010", "Wien"), "US": ("1 Main St", "10001", "New York")}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
async def app(database_url, clock, service_env):
    application = create_app(Settings(database_url=database_url, consumers_enabled=False,
                                      renewal_scan_interval_seconds=0, payment_sweep_interval_seconds=0,
                                      **service_env), clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def world(app, clock):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as client:
        yield World(app, client, clock)


def line(amount_minor: int = 10000, quantity: int = 1, **kw) -> LineDraft:
    values = dict(description="Web hosting Pro", offer_code="hosting-pro", product_id=uuid.uuid4(),
                  period_start=date(2026, 3, 1), period_end=date(2027, 2, 28), quantity=quantity,
                  unit_price_minor=amount_minor)
    return LineDraft(**{**values, **kw})


class World:
    """One app, its client, and helpers to make organizations and invoices."""

    def __init__(self, app, client: httpx.AsyncClient, clock: FrozenClock) -> None:
        self.app, self.c, self.clock = app, client, clock
        self.tokens = TestTokens().trust_in(app)
        self.operator = uuid.uuid4()

    def h(self, account: uuid.UUID, **kw) -> dict[str, str]:
        return self.tokens.headers(account, **kw)

    @property
    def op(self) -> dict[str, str]:
        return self.tokens.headers(self.operator, scope="billing")

    async def organization(self, country: str = "CH", *, kind: str = "company",
                           name: str = "Muster AG") -> tuple[uuid.UUID, uuid.UUID]:
        org, owner = uuid.uuid4(), uuid.uuid4()
        currency = "CHF" if country in ("CH", "LI") else "EUR"
        street, postal_code, city = ADDRESSES[country]
        await feed(self.app,
                   OrganizationCreated(organization_id=org, name=name, kind=kind, created_by=owner,
                                       currency=currency, country=country, org_version=1),
                   MemberAdded(organization_id=org, account_id=owner, role="legal_representative", org_version=2),
                   OrganizationDetailsChanged(
                       organization_id=org, name=name, kind=kind, phone=None, currency=currency, has_logo=False,
                       address=PostalAddress(street=street, postal_code=postal_code, city=city, country=country),
                       billing_addresses=[], changed_fields=["address"], changed_by=owner, recipients=[]))
        return org, owner

    async def issue(self, org: uuid.UUID, *lines: LineDraft, currency: str = "CHF", source_ref: str | None = None):
        async with self.app.state.runtime.db.transaction() as session:
            return await self.app.state.invoices.issue(
                session, organization_id=org, currency=currency, lines=list(lines) or [line()],
                source_ref=source_ref or f"test:{uuid.uuid4()}")

    async def pay(self, org: uuid.UUID, invoice_id: uuid.UUID, means: str = "card") -> None:
        async with self.app.state.runtime.db.transaction() as session:
            [invoice] = await self.app.state.invoices.payable(session, org, [invoice_id])
            await self.app.state.invoices.mark_paid(session, invoice, means=means, reference="test")
