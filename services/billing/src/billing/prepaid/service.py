"""The prepaid account's rules (BIL-02): balance, debit, credit, the ledger
read. Records events; never commits. Other parts call `Prepaid` (one
instance on app.state.prepaid) inside their own transaction."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.outbox import Outbox

from . import ledger
from .errors import AmountNotPositive
from .models import LedgerEntry
from .standing import standing_changed


@dataclass
class Prepaid:
    outbox: Outbox
    clock: Clock

    async def balance(self, session: AsyncSession, organization_id: uuid.UUID) -> tuple[int, str]:
        """(balance_minor, currency) of the organization's prepaid account."""
        return await ledger.balance(session, organization_id)

    async def debit(self, session: AsyncSession, organization_id: uuid.UUID, amount_minor: int, currency: str, *,
                    kind: str, cause: str, reference: str) -> LedgerEntry:
        """Take money off the balance; InsufficientPrepaidBalance (409) rather than below zero."""
        if kind not in ledger.DEBIT_KINDS:
            raise ValueError(f"not a debit kind: {kind}")
        return await self._move(session, organization_id, -self._positive(amount_minor), currency,
                                 kind=kind, cause=cause, reference=reference)

    async def credit(self, session: AsyncSession, organization_id: uuid.UUID, amount_minor: int, currency: str, *,
                     kind: str, cause: str, reference: str) -> LedgerEntry:
        """Put money on the balance (a top-up, a refund, an adjustment)."""
        if kind not in ledger.CREDIT_KINDS:
            raise ValueError(f"not a credit kind: {kind}")
        return await self._move(session, organization_id, self._positive(amount_minor), currency,
                                kind=kind, cause=cause, reference=reference)

    async def entries(self, session: AsyncSession, organization_id: uuid.UUID, *, limit: int,
                      before_seq: int | None = None) -> list[LedgerEntry]:
        return await ledger.entries(session, organization_id, limit=limit, before_seq=before_seq)

    async def _move(self, session: AsyncSession, organization_id: uuid.UUID, amount_minor: int, currency: str, *,
                    kind: str, cause: str, reference: str) -> LedgerEntry:
        entry = await ledger.move(session, organization_id, amount_minor, currency, kind=kind, cause=cause,
                                  reference=reference, now=self.clock.now())
        # ORG-14 follows every balance change, in the same transaction
        await standing_changed(session, self.outbox, organization_id)
        return entry

    @staticmethod
    def _positive(amount_minor: int) -> int:
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
            raise AmountNotPositive()
        return amount_minor
