"""Invitations by e-mail (ORG-04): a role and, for limited roles, initial
rights and teams; a single-use token that expires and can be revoked; for an
existing account or for an address that signs up later."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.addresses import display_email, normalize_email
from manager_shared.auth import Principal
from manager_shared.errors import Conflict, DomainError, Forbidden
from manager_shared.events import InvitationCreated, InvitationRevoked
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from . import roles
from .core import Core, dumps, loads, membership
from .errors import InvitationNotFound, TeamNotFound
from .models import AccountRef, Invitation, Membership, Organization, Team
from .rights import checked_category_grants, checked_grants
from .service import OrganizationsService


class AlreadyMember(Conflict):
    code, message = "already_member", "This person is already a member of the organization."


class InvitationPending(Conflict):
    code, message = "invitation_pending", "An invitation to this address is already pending; revoke it first."


class InvitationExpired(DomainError):
    code, status, message = "invitation_expired", 410, "This invitation has expired. Ask for a new one."


class InvitationForAnotherAddress(Forbidden):
    code = "invitation_for_another_address"
    message = "This invitation was sent to another e-mail address than your account's."


class AccountNotKnownYet(Conflict):
    code, message = "account_not_known_yet", "Your account is being set up; try again in a few seconds."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class InvitationsService:
    core: Core
    organizations: OrganizationsService

    async def invite(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID, *, email: str,
                     role: str, grants: list[dict], category_grants: list[dict], team_ids: list[uuid.UUID],
                     accounting: bool, full_access: bool) -> tuple[Invitation, str]:
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.check_grant_role(ctx.role, role)
        typed, email = display_email(email), normalize_email(email)  # IDN-01: every form, one invitee
        account = await repo.account_by_email(session, email)
        if account is not None and await membership(session, organization_id, account.account_id) is not None:
            raise AlreadyMember()
        now = self.core.clock.now()
        pending = (await session.execute(sa.select(Invitation.id).where(
            Invitation.organization_id == organization_id, Invitation.email == email,
            Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now))).first()
        if pending is not None:
            raise InvitationPending()
        rights = {}
        if role in roles.LIMITED_ROLES:  # full roles reach everything: rights would be moot
            for team_id in team_ids:
                team = await session.get(Team, team_id)
                if team is None or team.organization_id != organization_id:
                    raise TeamNotFound()
            rights = {"grants": await checked_grants(session, organization_id, grants),
                      "category_grants": checked_category_grants(category_grants),
                      "team_ids": sorted({str(t) for t in team_ids}), "accounting": accounting,
                      "full_access": full_access}
        token = secrets.token_urlsafe(32)
        invitation = Invitation(organization_id=organization_id, email=email, role=role,
                                token_hash=token_hash(token), rights=dumps(rights), created_by=actor, created_at=now,
                                expires_at=now + timedelta(hours=self.core.settings.invitation_ttl_hours))
        session.add(invitation)
        await session.flush()
        await self.core.emit(session, organization_id, InvitationCreated(
            organization_id=organization_id, invitation_id=invitation.id, email=typed, role=role, token=token,
            expires_at=invitation.expires_at, organization_name=ctx.org.name, invited_by=actor,
            invited_by_name=await self.core.name_of(session, actor), account_exists=account is not None,
            language=account.language if account else None))
        BUSINESS_EVENTS.labels("organizations", "invite", role).inc()
        return invitation, token

    async def list(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID) -> list[Invitation]:
        ctx = await self.core.context(session, organization_id, actor)
        roles.require_manager(ctx.role)
        return await repo.invitations_of(session, organization_id)

    async def revoke(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                     invitation_id: uuid.UUID) -> None:
        ctx = await self.core.context(session, organization_id, actor)
        roles.require_manager(ctx.role)
        invitation = await session.get(Invitation, invitation_id)
        if invitation is None or invitation.organization_id != organization_id:
            raise InvitationNotFound()
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            raise Conflict("This invitation was already used or revoked.", code="invitation_closed")
        invitation.revoked_at = self.core.clock.now()
        await self.core.emit(session, organization_id, InvitationRevoked(
            organization_id=organization_id, invitation_id=invitation.id, email=invitation.email, revoked_by=actor,
            organization_name=ctx.org.name))

    async def pending_for(self, session: AsyncSession, account_id: uuid.UUID) -> list[tuple[Invitation, str]]:
        """Invitations waiting for the caller's address, with the organization's
        name (the token itself only travels by mail)."""
        account = await session.get(AccountRef, account_id)
        if account is None:
            return []
        rows = await session.execute(sa.select(Invitation, Organization.name).join(
            Organization, Organization.id == Invitation.organization_id).where(
            Invitation.email == account.email, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
            Invitation.expires_at > self.core.clock.now(), Organization.deleted_at.is_(None))
            .order_by(Invitation.created_at))
        return [(i, name) for i, name in rows.all()]

    async def accept(self, session: AsyncSession, who: Principal, token: str) -> Membership:
        """The invited person, signed in with the invited address, joins with
        the invitation's role and rights. The token works once."""
        invitation = (await session.execute(sa.select(Invitation).where(
            Invitation.token_hash == token_hash(token)))).scalar_one_or_none()
        if invitation is None or invitation.revoked_at is not None or invitation.accepted_at is not None:
            raise InvitationNotFound()
        now = self.core.clock.now()
        if invitation.expires_at <= now:
            raise InvitationExpired()
        account = await session.get(AccountRef, who.account_id)
        if account is None:
            raise AccountNotKnownYet()
        if normalize_email(account.email) != normalize_email(invitation.email):  # rows kept lower-cased before
            raise InvitationForAnotherAddress()
        # Single use even under concurrent accepts: only one UPDATE finds it open.
        claimed = await session.execute(sa.update(Invitation).where(
            Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        ).values(accepted_at=now, accepted_by=who.account_id))
        if claimed.rowcount != 1:
            raise InvitationNotFound()
        org = await self.core.organization(session, invitation.organization_id, lock=True)
        if await membership(session, org.id, who.account_id) is not None:
            raise AlreadyMember()
        return await self.organizations.add_member(session, org, who.account_id, invitation.role,
                                                   invited_by=invitation.created_by, rights=loads(invitation.rights))
