"""organizations' business rules for organizations and members (ORG-01/02/03/13).
Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.addresses import normalize_email
from manager_shared.auth import Principal
from manager_shared.events import (AccountRegistered, CategoryGrant, DataDecision, MemberAdded, MemberRemoved,
                                   MemberRoleChanged, OrganizationCreated, ProductGrant, TeamChanged)
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from . import roles
from .core import Context, Core, dumps, legal_representatives, loads, membership
from .errors import ConfirmationRequired, MemberNotFound, OrganizationNotFound, Unprocessable
from .kinds import spec_of
from .models import AccountRef, CurrentOrganization, Invitation, MemberRemoval, Membership, Organization, Team

LEGAL_REPRESENTATIVE = roles.LEGAL_REPRESENTATIVE


class DataDecisionRequired(Unprocessable):
    code = "data_decision_required"
    message = "Say for each product holding the member's data whether it is transferred or deleted."


@dataclass
class OrganizationsService:
    core: Core

    @property
    def clock(self):
        return self.core.clock

    # -- organizations -----------------------------------------------------
    async def create_personal_organization(self, session: AsyncSession,
                                           event: AccountRegistered) -> Organization | None:
        """IDN-02/ORG-01: a new account gets an organization in its own name,
        where it is legal representative, unless an invitation waits for its
        address (it then joins the inviting organization on accepting)."""
        now = self.clock.now()
        pending = (await session.execute(sa.select(Invitation.id).where(
            Invitation.email == normalize_email(event.email), Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None), Invitation.expires_at > now).limit(1))).first()
        if pending is not None:
            BUSINESS_EVENTS.labels("organizations", "create_organization", "skipped_invited").inc()
            return None
        org = await self._create(session, event.account_id, f"{event.first_name} {event.last_name}"[:200], "private")
        BUSINESS_EVENTS.labels("organizations", "create_organization", "personal").inc()
        return org

    async def create_organization(self, session: AsyncSession, account_id: uuid.UUID, name: str,
                                  kind: str) -> Organization:
        """ORG-01: an account may hold several organizations; the creator is legal representative."""
        org = await self._create(session, account_id, name, kind)
        BUSINESS_EVENTS.labels("organizations", "create_organization", "created").inc()
        return org

    async def _create(self, session: AsyncSession, account_id: uuid.UUID, name: str, kind: str) -> Organization:
        now = self.clock.now()
        org = Organization(name=name, kind=kind, currency=self.core.settings.default_currency, created_by=account_id,
                           created_at=now)
        session.add(org)
        await session.flush()  # the membership references it
        session.add(Membership(organization_id=org.id, account_id=account_id, role=LEGAL_REPRESENTATIVE,
                               created_at=now))
        created = OrganizationCreated(organization_id=org.id, name=org.name, kind=kind, created_by=account_id,
                                      country=None, currency=org.currency, occurred_at=now,
                                      org_version=self.core.next_version(org))
        added = MemberAdded(organization_id=org.id, account_id=account_id, role=LEGAL_REPRESENTATIVE,
                            occurred_at=now, org_version=self.core.next_version(org), organization_name=org.name,
                            member=await self.core.recipient(session, account_id),
                            two_factor_enabled=await self.core.has_two_factor(session, account_id))
        await self.core.emit(session, org.id, created, added)
        return org

    async def get_for_member(self, session: AsyncSession, organization_id: uuid.UUID,
                             account_id: uuid.UUID) -> tuple[Organization, str]:
        ctx = await self.core.context(session, organization_id, account_id, enforce_two_factor=False)
        return ctx.org, ctx.role

    async def set_current(self, session: AsyncSession, account_id: uuid.UUID,
                          organization_id: uuid.UUID) -> Organization:
        """ORG-01 switching: remember the organization used last."""
        org, _ = await self.get_for_member(session, organization_id, account_id)
        row = await session.get(CurrentOrganization, account_id)
        if row is None:
            session.add(CurrentOrganization(account_id=account_id, organization_id=organization_id,
                                            changed_at=self.clock.now()))
        else:
            row.organization_id, row.changed_at = organization_id, self.clock.now()
        return org

    async def current(self, session: AsyncSession, account_id: uuid.UUID) -> tuple[Organization, str]:
        """The organization used last, or the oldest one when that is gone."""
        row = await session.get(CurrentOrganization, account_id)
        if row is not None and await membership(session, row.organization_id, account_id) is not None:
            return await self.get_for_member(session, row.organization_id, account_id)
        mine = await repo.organizations_of(session, account_id)
        if not mine:
            raise OrganizationNotFound()
        return mine[0]

    # -- members -----------------------------------------------------------
    async def members(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, *,
                      two_factor: bool | None = None, role: str | None = None) -> list[tuple[Membership, AccountRef]]:
        """ORG-02/ORG-11: members with role and 2FA status; administrators and
        legal representatives only; filter by 2FA on/off and role."""
        ctx = await self.core.context(session, organization_id, account_id)
        roles.require_manager(ctx.role)
        rows = await repo.members_with_accounts(session, organization_id)
        out = []
        for member, account in rows:
            has = account is not None and account.two_factor_methods > 0
            if (two_factor is None or has == two_factor) and (role is None or member.role == role):
                out.append((member, account))
        return out

    async def add_member(self, session: AsyncSession, org: Organization, account_id: uuid.UUID, role: str, *,
                         invited_by: uuid.UUID | None, rights: dict | None = None) -> Membership:
        """Join an organization (accepted invitation), with the initial rights
        and teams of a limited role."""
        rights = rights or {}
        now = self.clock.now()
        member = Membership(organization_id=org.id, account_id=account_id, role=role, created_at=now,
                            accounting=bool(rights.get("accounting")), full_access=bool(rights.get("full_access")),
                            grants=dumps(rights.get("grants", {})),
                            category_grants=dumps(rights.get("category_grants", {})))
        session.add(member)
        await session.flush()
        events = [MemberAdded(
            organization_id=org.id, account_id=account_id, role=role, org_version=self.core.next_version(org),
            organization_name=org.name, member=await self.core.recipient(session, account_id),
            invited_by=invited_by, two_factor_enabled=await self.core.has_two_factor(session, account_id),
            grants=[ProductGrant(product_id=p, rights=r) for p, r in loads(member.grants).items()],
            category_grants=[CategoryGrant(category=c, rights=r) for c, r in loads(member.category_grants).items()],
            accounting=member.accounting, full_access=member.full_access)]
        for team_id in rights.get("team_ids", []):
            team = await session.get(Team, uuid.UUID(team_id))
            if team is None or team.organization_id != org.id:
                continue  # deleted since the invitation
            team.members = dumps(sorted({*loads(team.members), str(account_id)}))
            events.append(team_event(team, invited_by or account_id, self.core.next_version(org)))
        await self.core.emit(session, org.id, *events)
        BUSINESS_EVENTS.labels("organizations", "add_member", role).inc()
        return member

    async def change_role(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                          target: uuid.UUID, new_role: str) -> Membership:
        """ORG-03 rules (roles.check_role_change), counted under the organization's
        lock so parallel changes cannot leave it without a legal representative."""
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)
        member = await membership(session, organization_id, target, refresh=True)
        if member is None:
            raise MemberNotFound()
        if member.role == new_role:
            return member
        roles.check_role_change(ctx.role, member.role, new_role,
                                await legal_representatives(session, organization_id))
        previous, member.role = member.role, new_role
        await self.core.emit(session, organization_id, MemberRoleChanged(
            organization_id=organization_id, account_id=target, role=new_role, previous_role=previous,
            changed_by=actor, org_version=self.core.next_version(ctx.org), organization_name=ctx.org.name,
            member=await self.core.recipient(session, target)))
        BUSINESS_EVENTS.labels("organizations", "change_role", new_role).inc()
        return member

    async def leave(self, session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> None:
        """A member leaves (an external user may leave rather than set up 2FA,
        ORG-11); never the last legal representative."""
        ctx = await self.core.context(session, organization_id, account_id, lock=True, enforce_two_factor=False)
        roles.check_leave(ctx.role, await legal_representatives(session, organization_id))
        await self._remove(session, ctx, ctx.member, removed_by=None, reason="left", decisions=[])

    async def remove_member(self, session: AsyncSession, organization_id: uuid.UUID, who: Principal,
                            target: uuid.UUID, *, confirm: bool, decisions: list[dict]) -> MemberRemoval:
        """ORG-13: administrator or legal representative, recent sign-in,
        explicit confirmation, not the last legal representative; for every
        product holding the member's data the caller says what happens to it."""
        self.core.require_recent_sign_in(who, self.core.settings)
        ctx = await self.core.context(session, organization_id, who.account_id, lock=True)
        roles.require_manager(ctx.role)
        if not confirm:
            raise ConfirmationRequired()
        member = await membership(session, organization_id, target, refresh=True)
        if member is None:
            raise MemberNotFound()
        roles.check_removal(ctx.role, member.role, await legal_representatives(session, organization_id))
        chosen = await self._data_decisions(session, ctx, target, decisions)
        return await self._remove(session, ctx, member, removed_by=who.account_id, reason="removed",
                                  decisions=chosen)

    async def _data_decisions(self, session: AsyncSession, ctx: Context, target: uuid.UUID,
                              decisions: list[dict]) -> list[DataDecision]:
        state = await self.core.access.load(session, ctx.org.id)
        holding = {pid: p for pid, p in (state.products.items() if state else ())
                   if spec_of(p.kind).holds_user_data and (state.rights_of(target, pid) is None
                                                          or state.rights_of(target, pid))}
        given = {d["product_id"]: d for d in decisions}
        missing = sorted(str(p) for p in holding if p not in given)
        unknown = sorted(str(p) for p in given if p not in holding)
        if missing or unknown:
            raise DataDecisionRequired(missing=missing, unknown=unknown)
        out = []
        for pid, product in holding.items():
            d = given[pid]
            if d["action"] == "transfer":
                to = d.get("transfer_to")
                if to is None or to == target or await membership(session, ctx.org.id, to) is None:
                    raise Unprocessable("Data can only be transferred to another member.",
                                        code="invalid_transfer_target", product_id=str(pid))
            out.append(DataDecision(product_id=pid, product_name=product.name, action=d["action"],
                                    transfer_to=d.get("transfer_to") if d["action"] == "transfer" else None))
        return out

    async def _remove(self, session: AsyncSession, ctx: Context, member: Membership, *,
                      removed_by: uuid.UUID | None, reason: str, decisions: list[DataDecision]) -> MemberRemoval:
        account_id = member.account_id
        for team in await repo.teams_of(session, ctx.org.id):
            names = loads(team.members)
            if str(account_id) in names:
                team.members = dumps([m for m in names if m != str(account_id)])
        await session.delete(member)
        record = MemberRemoval(organization_id=ctx.org.id, account_id=account_id, removed_by=removed_by,
                               reason=reason, decisions=dumps([d.model_dump(mode="json") for d in decisions]),
                               created_at=self.clock.now())
        session.add(record)
        await self.core.emit(session, ctx.org.id, MemberRemoved(
            organization_id=ctx.org.id, account_id=account_id, reason=reason, removed_by=removed_by,
            data_decisions=decisions, org_version=self.core.next_version(ctx.org), organization_name=ctx.org.name,
            member=await self.core.recipient(session, account_id)))
        BUSINESS_EVENTS.labels("organizations", "remove_member", reason).inc()
        await self.ensure_an_organization(session, account_id)
        return record

    async def ensure_an_organization(self, session: AsyncSession, account_id: uuid.UUID) -> None:
        """ORG-01: every account belongs to at least one organization; one that
        lost its last gets a new one in its own name, as at sign-up."""
        await session.flush()
        if await repo.organizations_of(session, account_id):
            return
        account = await session.get(AccountRef, account_id)
        name = f"{account.first_name} {account.last_name}".strip() if account else "Personal"
        await self._create(session, account_id, name[:200] or "Personal", "private")
        BUSINESS_EVENTS.labels("organizations", "create_organization", "last_one_lost").inc()


def team_event(team: Team, changed_by: uuid.UUID, org_version: int) -> TeamChanged:
    return TeamChanged(organization_id=team.organization_id, team_id=team.id, name=team.name,
                       members=[uuid.UUID(m) for m in loads(team.members)],
                       grants=[ProductGrant(product_id=p, rights=r) for p, r in loads(team.grants).items()],
                       changed_by=changed_by, org_version=org_version)
