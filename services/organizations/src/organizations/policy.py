"""What organizations learns of accounts from identity (address, names, 2FA
status) and the 2FA policy of ORG-11."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.addresses import normalize_email
from manager_shared.events import (AccountRegistered, LoginEmailChanged, MemberTwoFactorStatusChanged,
                                   SecurityAlertRequested, TwoFactorDisabled, TwoFactorEnabled,
                                   TwoFactorPolicyChanged)
from manager_shared.errors import Conflict

from . import repository as repo
from . import roles
from .core import Core, membership
from .errors import ConfirmationRequired, MemberNotFound
from .models import AccountRef, Organization


class CallerWithoutTwoFactor(Conflict):
    code = "caller_without_two_factor"
    message = "Set up two-factor authentication on your own account before requiring it."


@dataclass
class PolicyService:
    core: Core

    # -- identity's events -------------------------------------------------
    async def account_registered(self, session: AsyncSession, event: AccountRegistered) -> None:
        account = await session.get(AccountRef, event.account_id)
        if account is None:
            session.add(AccountRef(account_id=event.account_id, email=normalize_email(event.email),
                                   first_name=event.first_name[:100], last_name=event.last_name[:100],
                                   language=event.language, version=event.account_version))
            await session.flush()

    async def email_changed(self, session: AsyncSession, event: LoginEmailChanged) -> None:
        account = await session.get(AccountRef, event.account_id)
        if account is not None and event.account_version >= account.version:
            account.email, account.version = normalize_email(event.new_email), event.account_version

    async def two_factor_changed(self, session: AsyncSession, event: TwoFactorEnabled | TwoFactorDisabled) -> None:
        """identity's current count of second factors (0 = off); when 2FA
        turns on or off every organization of the account hears of it, so
        their access checks follow at once (ORG-11)."""
        account = await session.get(AccountRef, event.account_id)
        if account is None or event.account_version < account.version:
            return
        was = account.two_factor_methods > 0
        account.two_factor_methods, account.version = event.methods, event.account_version
        now = event.methods > 0
        if was == now:
            return
        for member in await repo.memberships_of(session, event.account_id):
            org = await session.get(Organization, member.organization_id, with_for_update=True)
            if org is None or org.deleted_at is not None:
                continue
            await self.core.emit(session, org.id, MemberTwoFactorStatusChanged(
                organization_id=org.id, account_id=event.account_id, two_factor_enabled=now,
                org_version=self.core.next_version(org)))

    # -- the policy ----------------------------------------------------------
    async def set_two_factor_required(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                                      *, required: bool, confirm: bool) -> Organization:
        """Switch "2FA required" on (with explicit confirmation) or off. From
        then, members without 2FA are refused web/Manager actions by every
        service's access check; sync with app passwords keeps working."""
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)
        if required and not confirm:
            raise ConfirmationRequired()
        if required and not await self.core.has_two_factor(session, actor):
            raise CallerWithoutTwoFactor()
        if ctx.org.two_factor_required == required:
            return ctx.org
        ctx.org.two_factor_required = required
        without = [m for m, a in await repo.members_with_accounts(session, organization_id)
                   if a is None or a.two_factor_methods == 0]
        await self.core.emit(session, organization_id, TwoFactorPolicyChanged(
            organization_id=organization_id, required=required, changed_by=actor, organization_name=ctx.org.name,
            members_without_two_factor=[await self.core.recipient(session, m.account_id) for m in without],
            org_version=self.core.next_version(ctx.org)))
        return ctx.org

    async def send_security_alert(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                                  target: uuid.UUID) -> None:
        """Ask that one member be e-mailed about their account settings (ORG-11)."""
        ctx = await self.core.context(session, organization_id, actor)
        roles.require_manager(ctx.role)
        if await membership(session, organization_id, target) is None:
            raise MemberNotFound()
        await self.core.emit(session, organization_id, SecurityAlertRequested(
            organization_id=organization_id, account_id=target, member=await self.core.recipient(session, target),
            requested_by=actor, requested_by_name=await self.core.name_of(session, actor),
            organization_name=ctx.org.name, two_factor_required=ctx.org.two_factor_required))
