"""organizations' HTTP API, part 2: rights, teams, products and locks, the 2FA
policy, details, logo, billing addresses and deletion."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from .api import member_read
from .core import loads
from .db import get_session
from .models import AccountRef
from .schemas import (BillingAddressIn, BillingAddressRead, DeletionRequest, DetailsRead, DetailsUpdate,
                      MaintenanceSet, MemberRead, ProductRead, RightsSet, TeamRead, TeamWrite, TwoFactorPolicySet)

router = APIRouter(prefix="/v1/organizations/{organization_id}", tags=["organization administration"])
LOGO_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@router.put("/members/{account_id}/rights", response_model=MemberRead)
async def set_rights(organization_id: uuid.UUID, account_id: uuid.UUID, body: RightsSet, request: Request,
                     who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Replace a member's own rights (ORG-06/08): per product (`use`, `manage`,
    `technical`, `statistics`, `fine:<name>` as the kind allows), per category
    (future products of it too), `full_access`, `accounting`."""
    member = await request.app.state.rights.set_rights(
        session, organization_id, who.account_id, account_id, grants=[g.model_dump() for g in body.grants],
        category_grants=[c.model_dump() for c in body.category_grants], accounting=body.accounting,
        full_access=body.full_access)
    return member_read(member, await session.get(AccountRef, account_id))


@router.post("/members/{account_id}/full-access", response_model=MemberRead)
async def full_access(organization_id: uuid.UUID, account_id: uuid.UUID, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Full access with maximum rights in one call (ORG-06)."""
    member = await request.app.state.rights.grant_full_access(session, organization_id, who.account_id, account_id)
    return member_read(member, await session.get(AccountRef, account_id))


@router.post("/members/{account_id}/security-alert", status_code=202)
async def security_alert(organization_id: uuid.UUID, account_id: uuid.UUID, request: Request,
                         who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """E-mail one member a security alert about their account settings (ORG-11)."""
    await request.app.state.policy.send_security_alert(session, organization_id, who.account_id, account_id)
    return {"status": "queued"}


def _team(team) -> TeamRead:
    return TeamRead(id=team.id, name=team.name, members=loads(team.members),
                    grants=[{"product_id": p, "rights": r} for p, r in loads(team.grants).items()])


@router.get("/teams", response_model=list[TeamRead])
async def teams(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                session: AsyncSession = Depends(get_session, scope="function")):
    """Work teams of the organization (ORG-07)."""
    return [_team(t) for t in await request.app.state.rights.teams(session, organization_id, who.account_id)]


@router.post("/teams", response_model=TeamRead, status_code=201)
async def create_team(organization_id: uuid.UUID, body: TeamWrite, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """A work team linked to products with rights; members get the union of
    their own and their teams' grants (ORG-07)."""
    team = await request.app.state.rights.save_team(
        session, organization_id, who.account_id, team_id=None, name=body.name, members=body.members,
        grants=[g.model_dump() for g in body.grants])
    return _team(team)


@router.put("/teams/{team_id}", response_model=TeamRead)
async def update_team(organization_id: uuid.UUID, team_id: uuid.UUID, body: TeamWrite, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Replace a team's name, members and grants."""
    team = await request.app.state.rights.save_team(
        session, organization_id, who.account_id, team_id=team_id, name=body.name, members=body.members,
        grants=[g.model_dump() for g in body.grants])
    return _team(team)


@router.delete("/teams/{team_id}", status_code=204)
async def delete_team(organization_id: uuid.UUID, team_id: uuid.UUID, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    await request.app.state.rights.delete_team(session, organization_id, who.account_id, team_id)
    return Response(status_code=204)


def _product(product, rights) -> ProductRead:
    return ProductRead(id=product.id, kind=product.kind, category=product.category, name=product.name,
                       locked=product.locked, maintenance=product.maintenance, rights=rights)


@router.get("/products", response_model=list[ProductRead])
async def products(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                   session: AsyncSession = Depends(get_session, scope="function")):
    """The products the caller reaches, with the caller's rights (ORG-05/06)."""
    return [_product(p, r) for p, r in await request.app.state.products.visible(
        session, organization_id, who.account_id)]


async def _lock(request, session, organization_id, product_id, who, locked: bool) -> ProductRead:
    product = await request.app.state.products.set_locked(session, organization_id, who.account_id, product_id,
                                                          locked)
    return _product(product, [])


@router.put("/products/{product_id}/lock", response_model=ProductRead)
async def lock_product(organization_id: uuid.UUID, product_id: uuid.UUID, request: Request,
                       who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Lock the management of a product (ORG-10); administrators and legal
    representatives only; every member is told by mail."""
    return await _lock(request, session, organization_id, product_id, who, True)


@router.delete("/products/{product_id}/lock", response_model=ProductRead)
async def unlock_product(organization_id: uuid.UUID, product_id: uuid.UUID, request: Request,
                         who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Lift the management lock (administrators and legal representatives only)."""
    return await _lock(request, session, organization_id, product_id, who, False)


@router.put("/products/{product_id}/maintenance", response_model=ProductRead)
async def maintenance(organization_id: uuid.UUID, product_id: uuid.UUID, body: MaintenanceSet, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Mail services: maintenance mode instead of a lock (ORG-10)."""
    product = await request.app.state.products.set_maintenance(session, organization_id, who.account_id,
                                                               product_id, body.maintenance)
    return _product(product, [])


@router.put("/policies/two-factor")
async def two_factor_policy(organization_id: uuid.UUID, body: TwoFactorPolicySet, request: Request,
                            who: Principal = Depends(current_principal),
                            session: AsyncSession = Depends(get_session, scope="function")):
    """Switch "2FA required" on (`confirm: true` needed) or off (ORG-11)."""
    org = await request.app.state.policy.set_two_factor_required(
        session, organization_id, who.account_id, required=body.required, confirm=body.confirm)
    return {"two_factor_required": org.two_factor_required}


def _details(org) -> DetailsRead:
    return DetailsRead(id=org.id, name=org.name, kind=org.kind, street=org.street, postal_code=org.postal_code,
                       city=org.city, country=org.country, phone=org.phone, currency=org.currency)


@router.get("/details", response_model=DetailsRead)
async def details(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                  session: AsyncSession = Depends(get_session, scope="function")):
    """The organization's details (any member)."""
    org, _ = await request.app.state.organizations.get_for_member(session, organization_id, who.account_id)
    return _details(org)


@router.put("/details", response_model=DetailsRead)
async def update_details(organization_id: uuid.UUID, body: DetailsUpdate, request: Request,
                         who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Legal representative only; not for private organizations (ORG-12). The
    address decides the currency of future invoices (CH/LI: CHF, else EUR)."""
    org = await request.app.state.details.update(
        session, organization_id, who.account_id, name=body.name, kind=body.kind,
        address=body.address.model_dump() if body.address else None, phone=body.phone)
    return _details(org)


@router.put("/logo", status_code=204, openapi_extra={"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in LOGO_TYPES}}})
async def upload_logo(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                      session: AsyncSession = Depends(get_session, scope="function")):
    """Upload the logo as the raw body (PNG, JPEG, GIF or WebP; size limited)."""
    limit = request.app.state.core.settings.logo_max_bytes
    data = b""
    async for chunk in request.stream():  # stop reading early: never buffer an oversized body
        data += chunk
        if len(data) > limit:
            break
    await request.app.state.details.set_logo(session, organization_id, who.account_id,
                                             request.headers.get("content-type", ""), data)
    return Response(status_code=204)


@router.get("/logo", response_class=Response)
async def logo(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
               session: AsyncSession = Depends(get_session, scope="function")):
    row = await request.app.state.details.logo(session, organization_id, who.account_id)
    return Response(row.data, media_type=row.content_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/billing-addresses", response_model=list[BillingAddressRead])
async def billing_addresses(organization_id: uuid.UUID, request: Request,
                            who: Principal = Depends(current_principal),
                            session: AsyncSession = Depends(get_session, scope="function")):
    rows = await request.app.state.details.billing_addresses(session, organization_id, who.account_id)
    return [BillingAddressRead.model_validate(r, from_attributes=True) for r in rows]


@router.post("/billing-addresses", response_model=BillingAddressRead, status_code=201)
async def add_billing_address(organization_id: uuid.UUID, body: BillingAddressIn, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """A further billing address (ORG-12), legal representative only."""
    row = await request.app.state.details.add_billing_address(session, organization_id, who.account_id,
                                                              body.model_dump())
    return BillingAddressRead.model_validate(row, from_attributes=True)


@router.delete("/billing-addresses/{address_id}", status_code=204)
async def remove_billing_address(organization_id: uuid.UUID, address_id: uuid.UUID, request: Request,
                                 who: Principal = Depends(current_principal),
                                 session: AsyncSession = Depends(get_session, scope="function")):
    await request.app.state.details.remove_billing_address(session, organization_id, who.account_id, address_id)
    return Response(status_code=204)


@router.post("/deletion", status_code=204)
async def delete_organization(organization_id: uuid.UUID, body: DeletionRequest, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """Delete the organization (ORG-14): legal representative, sign-in in the
    last 5 minutes, `confirm: true`; 409 `organization_not_deletable` lists
    the unmet conditions (products, other members, unpaid invoices, prepaid
    balance). The caller's account stays."""
    await request.app.state.details.delete(session, organization_id, who, confirm=body.confirm,
                                           send_paid_invoices=body.send_paid_invoices)
    return Response(status_code=204)
