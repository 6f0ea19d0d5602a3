"""Idempotency keys for requests that move money (BIL-02), reusable by any
endpoint (`IdempotentRequests.run`).

A claim row (scope = caller + organization, key, fingerprint of the
request) is committed in its own short transaction before the work, so a
second request with the same key sees it at once: the same request still
running → 409 request_in_progress; finished → its stored response again
(status and body); a different request under the same key → 422
idempotency_key_reused. The response is stored in the work's own
transaction: the money moved and the stored answer commit together. A
business error's answer is stored too (same request, same answer); an
unexpected failure, or an error that asks for a retry (a PSP that did not
answer), releases the claim. A claim whose process died is taken
over once its lease has passed. A key left unfinished and not retried is
closed by `close_unfinished` (payments.abandoned undoes its card charge).
Rows are purged after `keep_hours`."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import Database, insert_if_absent
from manager_shared.errors import DomainError, error_body

from .errors import IdempotencyKeyRequired, IdempotencyKeyReused, RequestAbandoned, RequestInProgress
from .models import IdempotencyKey

TABLE = IdempotencyKey.__table__
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200

# The work, given a reference stable across retries of the key (a PSP's own
# idempotency key: a retry after a crash never charges twice); returns the
# (status, JSON body) of the answer to store and send.
Work = Callable[[str], Awaitable[tuple[int, dict]]]


@dataclass(frozen=True)
class Claim:
    scope: str
    key: str
    lease_until: datetime

    @property
    def reference(self) -> str:
        return hashlib.sha256(f"{self.scope}|{self.key}".encode()).hexdigest()[:40]


def fingerprint(method: str, path: str, body: dict) -> str:
    canonical = json.dumps({"m": method, "p": path, "b": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotentRequests:
    def __init__(self, db: Database, clock: Clock, *, lease_seconds: float = 60.0) -> None:
        self.db, self.clock, self.lease = db, clock, timedelta(seconds=lease_seconds)

    async def run(self, request: Request, session: AsyncSession, caller: uuid.UUID, organization_id: uuid.UUID,
                  body: dict, work: Work) -> JSONResponse:
        """Run `work` once per key; `session` is the request's unit of work.
        Call it before the session has touched the database (the access check
        goes in `work`): the claim's own transaction then never waits for a
        second pooled connection while the request holds one."""
        key = (request.headers.get(HEADER) or "").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyRequired()
        scope = f"{caller}:{organization_id}"
        claimed = await self.claim(scope, key, fingerprint(request.method, request.url.path, body))
        if isinstance(claimed, JSONResponse):
            return claimed
        try:
            status, payload = await work(claimed.reference)
        except DomainError as error:
            # Nothing of the work stays; then the same answer is kept for the key,
            # unless it says "try again" (a PSP that did not answer): then the key is free again.
            await session.rollback()
            if error.retryable:
                await self.release(claimed)
            else:
                await self.finish_apart(claimed, error.status, error_body(error.code, error.message, **error.details))
            raise
        except BaseException:
            await session.rollback()
            await self.release(claimed)
            raise
        await self.finish(session, claimed, status, payload)
        return JSONResponse(payload, status_code=status, headers={"Idempotent-Replayed": "false"})

    async def claim(self, scope: str, key: str, print_: str) -> Claim | JSONResponse:
        """Commit a claim for (scope, key), or answer from the one there."""
        for _ in range(3):  # the row seen taken may be purged before it is read: claim again
            now = self.clock.now()
            claim = Claim(scope, key, now + self.lease)
            async with self.db.autocommit() as conn:  # the common case, a new key: one round trip
                if await insert_if_absent(conn, TABLE, {"scope": scope, "key": key, "fingerprint": print_,
                                                        "status": "in_progress", "created_at": now,
                                                        "lease_until": claim.lease_until}):
                    return claim
            async with self.db.transaction() as s:
                row = (await s.execute(sa.select(TABLE).where(TABLE.c.scope == scope, TABLE.c.key == key))).first()
                if row is not None:
                    return await self._existing(s, row, claim, print_, now)
        raise RequestInProgress()

    async def _existing(self, s: AsyncSession, row, claim: Claim, print_: str, now: datetime) -> Claim | JSONResponse:
        if row.fingerprint != print_:
            raise IdempotencyKeyReused()
        if row.status == "done":
            return JSONResponse(json.loads(row.response_body), status_code=row.response_status,
                                headers={"Idempotent-Replayed": "true"})
        if row.status == "in_progress" and row.lease_until > now:
            raise RequestInProgress()
        # Released after a failure, or the claimer died: take it over, unless another retry just did.
        taken = await s.execute(sa.update(TABLE).where(
            TABLE.c.scope == claim.scope, TABLE.c.key == claim.key, TABLE.c.status == row.status,
            TABLE.c.lease_until == row.lease_until).values(status="in_progress", lease_until=claim.lease_until))
        if taken.rowcount != 1:
            raise RequestInProgress()
        return claim

    async def finish(self, session: AsyncSession, claim: Claim, status: int, body: dict) -> None:
        """Store the answer in the work's transaction. If the lease passed and
        another request took the key over meanwhile, this work must not commit."""
        done = await session.execute(sa.update(TABLE).where(
            TABLE.c.scope == claim.scope, TABLE.c.key == claim.key, TABLE.c.status == "in_progress",
            TABLE.c.lease_until == claim.lease_until).values(
            status="done", response_status=status, response_body=json.dumps(body, default=str)))
        if done.rowcount != 1:
            raise RequestInProgress()

    async def finish_apart(self, claim: Claim, status: int, body: dict) -> None:
        async with self.db.transaction() as s:
            await self.finish(s, claim, status, body)

    async def release(self, claim: Claim) -> None:
        """The request failed before it could answer: the key is free for a
        retry. The row stays, `released`, so that `close_unfinished` finds it
        if nobody retries (its work may have charged a card meanwhile)."""
        async with self.db.transaction() as s:
            await s.execute(sa.update(TABLE).where(
                TABLE.c.scope == claim.scope, TABLE.c.key == claim.key, TABLE.c.status == "in_progress",
                TABLE.c.lease_until == claim.lease_until).values(status="released"))

    async def close_unfinished(self, session: AsyncSession, idle_for: timedelta, limit: int = 100) -> list[Claim]:
        """Keys whose request never answered (released after a failure, or
        its process died) and that nobody has tried for `idle_for`: answered
        for good (409 request_abandoned), so no retry can run their work
        again. Returned, so that what the work may have started outside (a
        card charge under the claim's reference) is undone in this same
        transaction. Safe with several replicas (rows skipped while locked)."""
        now = self.clock.now()
        query = sa.select(TABLE.c.scope, TABLE.c.key, TABLE.c.status, TABLE.c.lease_until).where(
            # lease_until is when the last attempt began plus the lease
            TABLE.c.status != "done", TABLE.c.lease_until < now - idle_for + self.lease).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        closed = []
        for row in (await session.execute(query)).all():
            done = await session.execute(sa.update(TABLE).where(
                TABLE.c.scope == row.scope, TABLE.c.key == row.key, TABLE.c.status == row.status,
                TABLE.c.lease_until == row.lease_until).values(
                status="done", response_status=RequestAbandoned.status,
                response_body=json.dumps(error_body(RequestAbandoned.code, RequestAbandoned.message))))
            if done.rowcount == 1:
                closed.append(Claim(row.scope, row.key, row.lease_until))
        return closed
