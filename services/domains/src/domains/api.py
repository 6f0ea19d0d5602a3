"""domains' HTTP API: thin routers, rules in service.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from .db import get_session
from .schemas import DomainRead
from .service import DomainsService

router = APIRouter(prefix="/v1", tags=["domains"])


def service_of(request: Request) -> DomainsService:
    return request.app.state.domains


@router.get("/organizations/{organization_id}/domains", response_model=list[DomainRead])
async def organization_domains(organization_id: uuid.UUID, request: Request,
                               who: Principal = Depends(current_principal),
                               session: AsyncSession = Depends(get_session, scope="function")):
    """Domains of an organization the caller belongs to (DOM-01); 404 for others."""
    domains = await service_of(request).domains_for(session, organization_id, who.account_id)
    return [DomainRead.model_validate(d, from_attributes=True) for d in domains]
