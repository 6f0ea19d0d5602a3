"""notifications' HTTP API: thin routers, rules in service.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from .db import get_session
from .errors import AccountAndOrganization
from .schemas import MessagePage, MessageRead
from .service import NotificationService

router = APIRouter(prefix="/v1", tags=["notifications"])


def service_of(request: Request) -> NotificationService:
    return request.app.state.notifications


@router.get("/messages", response_model=MessagePage)
async def list_messages(request: Request, account_id: uuid.UUID | None = None,
                        organization_id: uuid.UUID | None = None,
                        limit: int = Query(50, ge=1, le=200), before: int | None = Query(None, ge=1, le=2**63 - 1),  # a BIGINT id
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Delivery log (NTF-04): the messages made for an account, newest first,
    with their status (pending, sent, failed = will be retried, dead = given
    up and dead-lettered), attempts and last error. `account_id` defaults to
    the caller's, and only the caller's own account may be read;
    `organization_id` lists the messages made about that organization (to
    any of its members, or invitees), for its legal representatives and
    administrators. Bodies are never shown (some carry one-time codes)."""
    if account_id is not None and organization_id is not None:
        raise AccountAndOrganization()
    rows = await service_of(request).delivery_log(session, who, account_id, limit, before, organization_id)
    items = [MessageRead.model_validate(r, from_attributes=True) for r in rows]
    return MessagePage(items=items, next_before=items[-1].id if len(items) == limit else None)
