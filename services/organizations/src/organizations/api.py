"""organizations' HTTP API: thin routers, rules in service.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from . import repository as repo
from .db import get_session
from .schemas import OrganizationRead
from .service import OrganizationsService

router = APIRouter(prefix="/v1", tags=["organizations"])


def service_of(request: Request) -> OrganizationsService:
    return request.app.state.organizations


def _read(org, role: str) -> OrganizationRead:
    return OrganizationRead(id=org.id, name=org.name, kind=org.kind, country=org.country, currency=org.currency,
                            created_at=org.created_at, role=role)


@router.get("/organizations", response_model=list[OrganizationRead])
async def my_organizations(who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session)):
    """Organizations the caller belongs to, with the caller's role in each (ORG-01)."""
    return [_read(org, role) for org, role in await repo.organizations_of(session, who.account_id)]


@router.get("/organizations/{organization_id}", response_model=OrganizationRead)
async def organization(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                       session: AsyncSession = Depends(get_session)):
    """One organization of the caller; 404 for any other (existence is not revealed)."""
    org, role = await service_of(request).get_for_member(session, organization_id, who.account_id)
    return _read(org, role)
