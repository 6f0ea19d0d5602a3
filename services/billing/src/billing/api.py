"""billing's HTTP API: thin routers, rules in service.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from .db import get_session
from .schemas import BillingAccountRead
from .service import BillingService

router = APIRouter(prefix="/v1", tags=["billing"])


def service_of(request: Request) -> BillingService:
    return request.app.state.billing


@router.get("/organizations/{organization_id}/billing-account", response_model=BillingAccountRead)
async def billing_account(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                          session: AsyncSession = Depends(get_session, scope="function")):
    """The organization's billing account (BIL-01), for its legal representatives and administrators."""
    account = await service_of(request).account_for(session, organization_id, who.account_id)
    return BillingAccountRead.model_validate(account, from_attributes=True)
