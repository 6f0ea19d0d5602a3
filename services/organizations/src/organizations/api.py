"""organizations' HTTP API, part 1: organizations, switching, members and
invitations. Thin routers; rules in the service modules.

Every organization-scoped endpoint answers 404 `organization_not_found` to a
non-member (as for an organization that does not exist) and 403 with a
stable code to a member lacking the role."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from . import repository as repo
from .core import loads
from .db import get_session
from .models import AccountRef
from .schemas import (CurrentOrganizationSet, InvitationAccept, InvitationCreate, InvitationRead, MemberRead,
                      MyInvitationRead, OrganizationCreate, OrganizationRead, RemovalRequest, Role, RoleChange)

router = APIRouter(prefix="/v1", tags=["organizations"])
Org = uuid.UUID


def _read(org, role: str) -> OrganizationRead:
    return OrganizationRead(id=org.id, name=org.name, kind=org.kind, country=org.country, currency=org.currency,
                            created_at=org.created_at, role=role, two_factor_required=org.two_factor_required)


def member_read(member, account) -> MemberRead:
    return MemberRead(
        account_id=member.account_id, role=member.role, email=account and account.email,
        first_name=account and account.first_name, last_name=account and account.last_name,
        two_factor_enabled=bool(account and account.two_factor_methods > 0), accounting=member.accounting,
        full_access=member.full_access, joined_at=member.created_at,
        grants=[{"product_id": p, "rights": r} for p, r in loads(member.grants).items()],
        category_grants=[{"category": c, "rights": r} for c, r in loads(member.category_grants).items()])


@router.get("/organizations", response_model=list[OrganizationRead])
async def my_organizations(who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Organizations the caller belongs to, with the caller's role in each (ORG-01)."""
    return [_read(org, role) for org, role in await repo.organizations_of(session, who.account_id)]


@router.post("/organizations", response_model=OrganizationRead, status_code=201)
async def create_organization(body: OrganizationCreate, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """A further organization; the caller is its legal representative (ORG-01)."""
    org = await request.app.state.organizations.create_organization(session, who.account_id, body.name, body.kind)
    return _read(org, "legal_representative")


@router.get("/organizations/{organization_id}", response_model=OrganizationRead)
async def organization(organization_id: Org, request: Request, who: Principal = Depends(current_principal),
                       session: AsyncSession = Depends(get_session, scope="function")):
    """One organization of the caller; 404 for any other (existence is not revealed)."""
    org, role = await request.app.state.organizations.get_for_member(session, organization_id, who.account_id)
    return _read(org, role)


@router.get("/me/current-organization", response_model=OrganizationRead)
async def current_organization(request: Request, who: Principal = Depends(current_principal),
                               session: AsyncSession = Depends(get_session, scope="function")):
    """The organization the caller used last (ORG-01); the API itself always
    takes the organization explicitly."""
    org, role = await request.app.state.organizations.current(session, who.account_id)
    return _read(org, role)


@router.put("/me/current-organization", response_model=OrganizationRead)
async def switch_organization(body: CurrentOrganizationSet, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """Switch to another of the caller's organizations (remembered as last used)."""
    org = await request.app.state.organizations.set_current(session, who.account_id, body.organization_id)
    _, role = await request.app.state.organizations.get_for_member(session, org.id, who.account_id)
    return _read(org, role)


@router.get("/organizations/{organization_id}/members", response_model=list[MemberRead])
async def members(organization_id: Org, request: Request, two_factor: bool | None = Query(None),
                  role: Role | None = Query(None), who: Principal = Depends(current_principal),
                  session: AsyncSession = Depends(get_session, scope="function")):
    """Members with role, rights and 2FA status; `two_factor=false` lists those
    without 2FA (ORG-11). Administrators and legal representatives."""
    rows = await request.app.state.organizations.members(session, organization_id, who.account_id,
                                                         two_factor=two_factor, role=role)
    return [member_read(m, a) for m, a in rows]


@router.put("/organizations/{organization_id}/members/{account_id}/role", response_model=MemberRead)
async def change_role(organization_id: Org, account_id: uuid.UUID, body: RoleChange, request: Request,
                      who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Change a member's role (ORG-03: only a legal representative grants or
    takes legal representative; the last one stays)."""
    member = await request.app.state.organizations.change_role(session, organization_id, who.account_id,
                                                               account_id, body.role)
    return member_read(member, await session.get(AccountRef, account_id))


@router.post("/organizations/{organization_id}/members/{account_id}/removal", status_code=204)
async def remove_member(organization_id: Org, account_id: uuid.UUID, body: RemovalRequest, request: Request,
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Remove a user (ORG-13): sign-in in the last 5 minutes, `confirm: true`,
    and for each product holding the user's data `transfer` (to a member) or
    `delete`. 422 `data_decision_required` lists the products to decide on."""
    await request.app.state.organizations.remove_member(
        session, organization_id, who, account_id, confirm=body.confirm,
        decisions=[d.model_dump() for d in body.data])
    return Response(status_code=204)


@router.post("/organizations/{organization_id}/leave", status_code=204)
async def leave(organization_id: Org, request: Request, who: Principal = Depends(current_principal),
                session: AsyncSession = Depends(get_session, scope="function")):
    """Leave the organization (also allowed without 2FA when it requires 2FA, ORG-11)."""
    await request.app.state.organizations.leave(session, organization_id, who.account_id)
    return Response(status_code=204)


def _status(invitation, now) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if invitation.expires_at <= now else "pending"


def invitation_read(invitation, now) -> InvitationRead:
    return InvitationRead(id=invitation.id, email=invitation.email, role=invitation.role,
                          status=_status(invitation, now), created_at=invitation.created_at,
                          expires_at=invitation.expires_at)


@router.post("/organizations/{organization_id}/invitations", response_model=InvitationRead, status_code=201)
async def invite(organization_id: Org, body: InvitationCreate, request: Request,
                 who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Invite by e-mail with a role (ORG-04) and, for limited roles, initial
    rights and teams. The token is only mailed (InvitationCreated)."""
    invitation, _ = await request.app.state.invitations.invite(
        session, organization_id, who.account_id, email=str(body.email), role=body.role,
        grants=[g.model_dump() for g in body.grants], category_grants=[c.model_dump() for c in body.category_grants],
        team_ids=body.team_ids, accounting=body.accounting, full_access=body.full_access)
    return invitation_read(invitation, request.app.state.core.clock.now())


@router.get("/organizations/{organization_id}/invitations", response_model=list[InvitationRead])
async def invitations(organization_id: Org, request: Request, who: Principal = Depends(current_principal),
                      session: AsyncSession = Depends(get_session, scope="function")):
    """Invitations of the organization with their status."""
    now = request.app.state.core.clock.now()
    return [invitation_read(i, now) for i in await request.app.state.invitations.list(
        session, organization_id, who.account_id)]


@router.delete("/organizations/{organization_id}/invitations/{invitation_id}", status_code=204)
async def revoke_invitation(organization_id: Org, invitation_id: uuid.UUID, request: Request,
                            who: Principal = Depends(current_principal),
                            session: AsyncSession = Depends(get_session, scope="function")):
    """Revoke a pending invitation; its token stops working."""
    await request.app.state.invitations.revoke(session, organization_id, who.account_id, invitation_id)
    return Response(status_code=204)


@router.get("/me/invitations", response_model=list[MyInvitationRead])
async def my_invitations(request: Request, who: Principal = Depends(current_principal),
                         session: AsyncSession = Depends(get_session, scope="function")):
    """Pending invitations to the caller's address (accept them with the mailed token)."""
    return [MyInvitationRead(id=i.id, organization_id=i.organization_id, organization_name=name, role=i.role,
                             expires_at=i.expires_at)
            for i, name in await request.app.state.invitations.pending_for(session, who.account_id)]


@router.post("/invitations/accept", response_model=OrganizationRead)
async def accept_invitation(body: InvitationAccept, request: Request, who: Principal = Depends(current_principal),
                            session: AsyncSession = Depends(get_session, scope="function")):
    """Accept with the mailed token, signed in with the invited address (an
    existing account, or one created afterwards with that address)."""
    member = await request.app.state.invitations.accept(session, who, body.token)
    org, role = await request.app.state.organizations.get_for_member(session, member.organization_id,
                                                                     who.account_id)
    return _read(org, role)
