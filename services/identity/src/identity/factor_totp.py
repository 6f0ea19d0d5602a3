"""TOTP authenticator apps as a second factor (IDN-14a): pyotp, 160-bit
secrets, ±1 time step, and `last_step` as the durable replay record."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal

from . import repository as repo
from . import totp
from .location import Location
from .models import TotpMethod
from .schemas import MfaStep, TotpEnrolment
from .two_factor import FactorKind, InvalidCode, MethodNotFound


class TotpFactor(FactorKind):
    kind = "totp"
    model = TotpMethod

    async def start(self, session: AsyncSession, who: Principal, name: str) -> TotpEnrolment:
        """Step 1 of enrolment: a new secret, shown once as URI and QR code."""
        self.service.require_recent(who)
        account = await repo.account_by_id(session, who.account_id)
        secret = totp.new_secret()
        method = TotpMethod(account_id=account.id, name=name, secret=secret, created_at=self.service.clock.now())
        session.add(method)
        uri = totp.provisioning_uri(secret, account.email)
        return TotpEnrolment(id=method.id, secret=secret, provisioning_uri=uri, qr_svg=totp.qr_svg(uri))

    async def confirm(self, session: AsyncSession, who: Principal, method_id: uuid.UUID,
                      code: str) -> list[str] | None:
        """Step 2: a code from the app proves it is set up."""
        self.service.require_recent(who)
        method = await session.get(TotpMethod, method_id)
        if method is None or method.account_id != who.account_id or method.confirmed_at is not None:
            raise MethodNotFound("No such pending authenticator.")
        step = totp.matching_step(method.secret, code, self.service.clock.now(), method.last_step)
        if step is None:
            raise InvalidCode()
        method.last_step = step
        return await self.service.enable(session, who.account_id, self, method)

    async def verify(self, session: AsyncSession, account_id: uuid.UUID, step: MfaStep, claims: dict,
                     where: Location) -> bool:
        """Core statements, no ORM: this runs on every 2FA sign-in. The replay
        record is a compare-and-set (`last_step < step`), so two requests
        with the same code cannot both win, without holding a row lock."""
        if not step.code:
            return False
        now, t = self.service.clock.now(), TotpMethod.__table__
        rows = (await session.execute(sa.select(t.c.id, t.c.secret, t.c.last_step).where(
            t.c.account_id == account_id, t.c.confirmed_at.is_not(None)))).all()
        for row in rows:
            matched = totp.matching_step(row.secret, step.code.strip(), now, row.last_step)
            if matched is not None:
                won = await session.execute(sa.update(t).where(t.c.id == row.id, t.c.last_step < matched)
                                            .values(last_step=matched))
                return won.rowcount == 1
        return False
