"""The access check over HTTP (ORG-09): the same pure function other services
run on their own projection, here on organizations' own."""
from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from .db import get_session
from .schemas import AccessDecision

router = APIRouter(prefix="/v1", tags=["access"])


@router.get("/organizations/{organization_id}/access", response_model=AccessDecision)
async def check_access(organization_id: uuid.UUID, request: Request,
                       action: str = Query(pattern=r"^(view|administer|accounting|use|manage|technical|statistics"
                                                   r"|fine:[a-z_]{1,40})$"),
                       product_id: uuid.UUID | None = None, channel: Literal["web", "sync"] = "web",
                       who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session)):
    """May the caller do `action` (on `product_id`, or on the organization)?
    Always 200: `allowed` and a stable `code` (allowed, not_member,
    two_factor_required, role_required, product_not_found, right_missing,
    product_locked, product_in_maintenance, account_blocked). A non-member
    gets `not_member` whether or not the organization exists."""
    decision = await request.app.state.products.check(session, who.account_id, organization_id, action,
                                                      product_id, channel)
    return AccessDecision(allowed=decision.allowed, code=decision.code)
