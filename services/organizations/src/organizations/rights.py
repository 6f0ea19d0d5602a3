"""Product rights, category grants, full access, the accounting right (ORG-06,
ORG-08) and work teams (ORG-07). Every change emits an event."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.events import CategoryGrant, MemberRightsChanged, ProductGrant, TeamDeleted

from . import repository as repo
from . import roles
from .core import Core, dumps, loads, membership
from .errors import MemberNotFound, TeamNotFound, Unprocessable
from .kinds import category_rights, check_rights, spec_of
from .models import Membership, Organization, Product, Team
from .service import team_event


async def checked_grants(session: AsyncSession, organization_id: uuid.UUID,
                         grants: list[dict]) -> dict[str, list[str]]:
    """{product_id: rights} after checking each product is the organization's
    and each right exists for its kind (422 otherwise)."""
    out: dict[str, list[str]] = {}
    for grant in grants:
        product = await session.get(Product, grant["product_id"])
        if product is None or product.organization_id != organization_id:
            raise Unprocessable("No such product in this organization.", code="unknown_product",
                                product_id=str(grant["product_id"]))
        out[str(product.id)] = check_rights(grant["rights"], spec_of(product.kind).rights,
                                            product_id=str(product.id))
    return out


def checked_category_grants(grants: list[dict]) -> dict[str, list[str]]:
    return {g["category"]: check_rights(g["rights"], category_rights(g["category"]), category=g["category"])
            for g in grants}


def rights_event(member: Membership, changed_by: uuid.UUID, org_version: int) -> MemberRightsChanged:
    return MemberRightsChanged(
        organization_id=member.organization_id, account_id=member.account_id,
        grants=[ProductGrant(product_id=p, rights=r) for p, r in loads(member.grants).items()],
        category_grants=[CategoryGrant(category=c, rights=r) for c, r in loads(member.category_grants).items()],
        full_access=member.full_access, accounting=member.accounting, changed_by=changed_by,
        org_version=org_version)


@dataclass
class RightsService:
    core: Core

    async def _target(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                      target: uuid.UUID) -> tuple[Organization, Membership]:
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)
        member = await membership(session, organization_id, target, refresh=True)
        if member is None:
            raise MemberNotFound()
        return ctx.org, member

    async def set_rights(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                         target: uuid.UUID, *, grants: list[dict], category_grants: list[dict],
                         accounting: bool, full_access: bool) -> Membership:
        """Replace a member's own rights: per product, per category (future
        products too), full access, accounting (ORG-06/08)."""
        org, member = await self._target(session, organization_id, actor, target)
        member.grants = dumps(await checked_grants(session, organization_id, grants))
        member.category_grants = dumps(checked_category_grants(category_grants))
        member.accounting, member.full_access = accounting, full_access
        await self.core.emit(session, organization_id, rights_event(member, actor, self.core.next_version(org)))
        return member

    async def grant_full_access(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                                target: uuid.UUID) -> Membership:
        """"Full access, maximum rights" in one call: every product present and
        future with every right its kind has, and the accounting right."""
        org, member = await self._target(session, organization_id, actor, target)
        products = await repo.products_of(session, organization_id)
        member.grants = dumps({str(p.id): list(spec_of(p.kind).rights) for p in products})
        member.full_access = member.accounting = True
        await self.core.emit(session, organization_id, rights_event(member, actor, self.core.next_version(org)))
        return member

    # -- teams -------------------------------------------------------------
    async def teams(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID) -> list[Team]:
        await self.core.context(session, organization_id, actor)
        return await repo.teams_of(session, organization_id)

    async def save_team(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID, *,
                        team_id: uuid.UUID | None, name: str, members: list[uuid.UUID],
                        grants: list[dict]) -> Team:
        """Create or replace a work team: name, members, product grants (ORG-07)."""
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)
        for account_id in members:
            if await membership(session, organization_id, account_id) is None:
                raise Unprocessable("Only members can be in a team.", code="not_a_member", account_id=str(account_id))
        checked = await checked_grants(session, organization_id, grants)
        if team_id is None:
            team = Team(organization_id=organization_id, name=name, created_at=self.core.clock.now())
            session.add(team)
        else:
            team = await self._team(session, organization_id, team_id)
            team.name = name
        team.members, team.grants = dumps(sorted({str(m) for m in members})), dumps(checked)
        await session.flush()
        await self.core.emit(session, organization_id, team_event(team, actor, self.core.next_version(ctx.org)))
        return team

    async def delete_team(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                          team_id: uuid.UUID) -> None:
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)
        team = await self._team(session, organization_id, team_id)
        await session.delete(team)
        await self.core.emit(session, organization_id, TeamDeleted(
            organization_id=organization_id, team_id=team_id, changed_by=actor,
            org_version=self.core.next_version(ctx.org)))

    async def _team(self, session: AsyncSession, organization_id: uuid.UUID, team_id: uuid.UUID) -> Team:
        team = await session.get(Team, team_id)
        if team is None or team.organization_id != organization_id:
            raise TeamNotFound()
        return team
