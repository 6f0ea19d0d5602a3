"""The access check over HTTP (ORG-09): the same pure function other services
run on their own projection, here on organizations' own."""
from __future__ import annotations

import time
import uuid
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from manager_shared.auth import bearer_token
from manager_shared.errors import AccountIsBlocked, SessionIsEnded

from .schemas import AccessDecision

router = APIRouter(prefix="/v1", tags=["access"])


class VerifiedTokens:
    """Tokens whose signature was already checked, until they expire: a
    client asking many questions with one access token pays the ES256
    verification once. Expiry is still enforced on every use; a blocked
    account is still refused from the projection."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: dict[str, tuple[float, object]] = {}

    async def principal(self, runtime, token: str):
        hit = self._seen.get(token)
        now = time.time()
        if hit is not None and hit[0] > now:
            return hit[1]
        who = await runtime.verifier.verify(token)
        if len(self._seen) >= self.size:
            self._seen.clear()  # crude but bounded; refilled by the next requests
        self._seen[token] = (float(who.claims["exp"]), who)
        return who


_verified = VerifiedTokens()


@router.get("/organizations/{organization_id}/access", response_model=AccessDecision)
async def check_access(organization_id: uuid.UUID, request: Request,
                       action: str = Query(pattern=r"^(view|administer|accounting|use|manage|technical|statistics"
                                                   r"|fine:[a-z_]{1,40})$"),
                       product_id: uuid.UUID | None = None, channel: Literal["web", "sync"] = "web"):
    """May the caller do `action` (on `product_id`, or on the organization)?
    Always 200: `allowed` and a stable `code` (allowed, not_member,
    two_factor_required, role_required, product_not_found, right_missing,
    product_locked, product_in_maintenance, account_blocked). A non-member
    gets `not_member` whether or not the organization exists."""
    runtime = request.app.state.runtime
    who = await _verified.principal(runtime, bearer_token(request))
    # Hot path: answered from the in-memory copy of the access projection
    # (access_memory), no database round trip.
    decision = request.app.state.core.memory.check(who.account_id, organization_id, action, product_id,
                                                   channel=channel)
    if decision.code == "account_blocked":
        raise AccountIsBlocked()  # as every other endpoint answers a blocked account (IDN-18)
    if request.app.state.core.memory.session_ended(who.session_id):
        raise SessionIsEnded()  # and a signed-out or revoked session (IDN-03)
    # a ready response: FastAPI skips re-validating it against the model (hot path)
    return JSONResponse({"allowed": decision.allowed, "code": decision.code})
