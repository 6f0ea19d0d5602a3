"""HTTP API of the catalogue and subscriptions: thin routers, rules in the services."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from ..db import get_session
from .errors import OperatorOnly
from .schemas import (OfferRead, PriceCreate, PriceRead, RenewalPage, RenewalRead, SubscriptionRead,
                      SubscriptionUpdate)
from .service import Catalogue
from .subscriptions import RenewalItem, Subscriptions

router = APIRouter(prefix="/v1", tags=["catalogue"])
OPERATOR_SCOPE = "billing"
OfferCode = Path(pattern=r"^[a-z0-9_]+(\.[a-z0-9_-]+){1,4}$", max_length=80)


def catalogue_of(request: Request) -> Catalogue:
    return request.app.state.catalogue


def subscriptions_of(request: Request) -> Subscriptions:
    return request.app.state.subscriptions


def _offer_read(offer, prices, later) -> OfferRead:
    return OfferRead(code=offer.code, kind=offer.kind, name=offer.name, vat_category=offer.vat_category,
                     renews=offer.renews, prices=[PriceRead.model_validate(p) for p in prices],
                     upcoming_prices=[PriceRead.model_validate(p) for p in later])


@router.get("/catalogue/offers", response_model=list[OfferRead])
async def list_offers(request: Request, kind: str | None = Query(default=None, max_length=40),
                      _: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """The catalogue: every offer (or those of one product kind) with the
    prices in force now, per currency and billing period, in minor units."""
    return [_offer_read(*row) for row in await catalogue_of(request).listing(session, kind)]


@router.get("/catalogue/offers/{code}", response_model=OfferRead)
async def get_offer(request: Request, code: str = OfferCode, _: Principal = Depends(current_principal),
                    session: AsyncSession = Depends(get_session, scope="function")):
    """One offer with its current and announced prices (404 `offer_not_found`)."""
    catalogue = catalogue_of(request)
    offer = await catalogue.offer(session, code)
    [row] = await catalogue.with_prices(session, [offer])
    return _offer_read(*row)


@router.post("/catalogue/offers/{code}/prices", response_model=PriceRead, status_code=201)
async def add_price(body: PriceCreate, request: Request, code: str = OfferCode,
                    who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Operators (scope `billing`): a new price version of an offer. It
    applies to invoices issued from `valid_from` on; earlier invoices keep
    theirs. 409 `price_version_exists`, 422 `price_valid_from_in_past`."""
    if OPERATOR_SCOPE not in who.scopes:
        raise OperatorOnly()
    row = await catalogue_of(request).add_price(session, code, **body.model_dump(), created_by=who.account_id)
    return PriceRead.model_validate(row)


def _renewal_read(item: RenewalItem) -> RenewalRead:
    price = item.price
    return RenewalRead(subscription=SubscriptionRead.model_validate(item.subscription),
                       renewal_period=item.renewal_period, next_term_start=item.next_term_start,
                       next_term_end=item.next_term_end, currency=item.currency,
                       unit_price_minor=price.unit_price_minor if price else None,
                       amount_minor=price.unit_price_minor * item.subscription.quantity if price else None,
                       vat_category=price.vat_category if price else None, invoice_id=item.invoice_id)


@router.get("/organizations/{organization_id}/renewals", response_model=RenewalPage)
async def renewals(organization_id: uuid.UUID, request: Request, show_all: bool = False,
                   who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """BIL-04: the organization's products due for renewal in the next two
    months (`show_all=true`: all of them), soonest first, with the price of
    the next term. Legal representatives, administrators and holders of the
    accounting right; 404 `billing_account_not_found` for anyone else."""
    subs = subscriptions_of(request)
    items = await subs.renewals(session, organization_id, who.account_id, show_all=show_all)
    horizon = None if show_all else subs.horizon()
    return RenewalPage(items=[_renewal_read(i) for i in items], show_all=show_all, due_before=horizon)


@router.get("/organizations/{organization_id}/subscriptions/{product_id}", response_model=SubscriptionRead)
async def get_subscription(organization_id: uuid.UUID, product_id: uuid.UUID, request: Request,
                           who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """One product's subscription (404 `subscription_not_found`)."""
    sub, _ = await subscriptions_of(request).owned(session, organization_id, who.account_id, product_id)
    return SubscriptionRead.model_validate(sub)


@router.patch("/organizations/{organization_id}/subscriptions/{product_id}", response_model=SubscriptionRead)
async def update_subscription(organization_id: uuid.UUID, product_id: uuid.UUID, body: SubscriptionUpdate,
                              request: Request, who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """BIL-04 auto-renew in one switch, DOM-06 Renewal Warranty, BIL-05 billing
    period. A new period never touches the paid term: it applies from its end
    and takes effect with the payment of the invoice at that period
    (`next_period`). 422 `period_not_available` below the period's minimum
    quantity or for a period the offer is not sold at."""
    sub = await subscriptions_of(request).update(session, organization_id, product_id, who.account_id,
                                                 **body.model_dump(exclude_none=True))
    return SubscriptionRead.model_validate(sub)
