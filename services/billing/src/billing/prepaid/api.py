"""The prepaid account's HTTP API (BIL-02, BIL-10): thin routers, rules in
the feature's modules. Requests that move money need an Idempotency-Key."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal

from ..db import get_session
from ..payments.provider import PROVIDER_UNAVAILABLE
from . import repository as repo
from .errors import TopUpNotFound, WithdrawalNotFound
from .schemas import BalanceRead, EntriesPage, EntryRead, TopUpIn, TopUpRead, WithdrawalIn, WithdrawalRead
from .top_ups import top_up_view
from .withdrawals import withdrawal_view

router = APIRouter(prefix="/v1/organizations/{organization_id}/prepaid", tags=["prepaid"])
IDEMPOTENCY = Header(alias="Idempotency-Key", default=None, max_length=200,
                     description="Required: the same key and body again return the first answer; money moves once.")
STATUS_OF_TOP_UP = {"succeeded": 201, "pending": 202, "failed": 402}


async def allowed(request: Request, session: AsyncSession, organization_id: uuid.UUID, who: Principal) -> None:
    """Legal representatives, administrators, accounting right; 404 for anyone else."""
    await request.app.state.billing.ensure_access(session, organization_id, who.account_id)


@router.get("", response_model=BalanceRead)
async def balance(organization_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                  session: AsyncSession = Depends(get_session, scope="function")):
    """The prepaid balance (BIL-02)."""
    await allowed(request, session, organization_id, who)
    balance_minor, currency = await request.app.state.prepaid.balance(session, organization_id)
    return BalanceRead(organization_id=organization_id, balance_minor=balance_minor, currency=currency)


@router.get("/entries", response_model=EntriesPage)
async def entries(organization_id: uuid.UUID, request: Request, limit: int = Query(50, ge=1, le=200),
                  before_seq: int | None = Query(None, ge=1, le=2**31 - 1), who: Principal = Depends(current_principal),
                  session: AsyncSession = Depends(get_session, scope="function")):
    """The ledger, newest first: every movement with its cause and the balance after it."""
    await allowed(request, session, organization_id, who)
    rows = await request.app.state.prepaid.entries(session, organization_id, limit=limit, before_seq=before_seq)
    return EntriesPage(items=[EntryRead.model_validate(r, from_attributes=True) for r in rows],
                       next_before_seq=rows[-1].seq if len(rows) == limit and rows[-1].seq > 1 else None)


@router.post("/top-ups", response_model=TopUpRead, status_code=201,
             responses={202: {"description": "3-D Secure: complete it at action_url"},
                        402: {"description": "The card was declined or lacks funds; nothing was credited"},
                        **PROVIDER_UNAVAILABLE})
async def top_up(organization_id: uuid.UUID, body: TopUpIn, request: Request,
                 who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function"),
                 _key: str | None = IDEMPOTENCY):
    """Top up the prepaid balance by card, within the per-top-up and daily limits."""
    async def work(reference: str) -> tuple[int, dict]:
        await allowed(request, session, organization_id, who)
        row, action_url = await request.app.state.top_ups.start(
            session, organization_id, body.amount_minor, body.currency, body.card_token, reference)
        return STATUS_OF_TOP_UP[row.status], top_up_view(row, action_url)

    return await request.app.state.idempotency.run(request, session, who.account_id, organization_id,
                                                   body.model_dump(mode="json"), work)


@router.get("/top-ups/{top_up_id}", response_model=TopUpRead)
async def top_up_status(organization_id: uuid.UUID, top_up_id: uuid.UUID, request: Request,
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """One top-up's state (e.g. after 3-D Secure)."""
    await allowed(request, session, organization_id, who)
    row = await repo.top_up(session, organization_id, top_up_id)
    if row is None:
        raise TopUpNotFound()
    return top_up_view(row)


@router.post("/withdrawals", response_model=WithdrawalRead, status_code=202, responses=PROVIDER_UNAVAILABLE)
async def withdraw(organization_id: uuid.UUID, body: WithdrawalIn, request: Request,
                   who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function"),
                   _key: str | None = IDEMPOTENCY):
    """Withdraw (part of) the balance (BIL-10): debited at once, paid out to
    the cards it came from or to an IBAN, pending until the provider confirms."""
    async def work(reference: str) -> tuple[int, dict]:
        await allowed(request, session, organization_id, who)
        row, parts = await request.app.state.withdrawals.request(
            session, organization_id, who.account_id, amount_minor=body.amount_minor, currency=body.currency,
            destination=body.destination, iban=body.iban, account_holder=body.account_holder, reference=reference)
        return 202, withdrawal_view(row, parts)

    return await request.app.state.idempotency.run(request, session, who.account_id, organization_id,
                                                   body.model_dump(mode="json"), work)


@router.get("/withdrawals/{withdrawal_id}", response_model=WithdrawalRead)
async def withdrawal_status(organization_id: uuid.UUID, withdrawal_id: uuid.UUID, request: Request,
                            who: Principal = Depends(current_principal),
                            session: AsyncSession = Depends(get_session, scope="function")):
    """One withdrawal's state and its payouts."""
    await allowed(request, session, organization_id, who)
    row = await repo.withdrawal(session, organization_id, withdrawal_id)
    if row is None:
        raise WithdrawalNotFound()
    return withdrawal_view(row, await repo.parts_of(session, row.id))
