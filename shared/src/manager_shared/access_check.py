"""The access check of ORG-09: "may account A do action X on product P of
organization O", answered from a local projection of organizations' events,
with no call to organizations.

`OrgAccess` is one organization's access state (members and roles, grants,
teams, products with their locks, the 2FA policy) built by `apply`-ing
organizations' events in order; `decide` is a pure function over it. Services
keep the state in their own database (`manager_shared.access.OrgAccessStore`,
one JSON document per organization); `AccessProjection` keeps many in memory.
A rights change takes effect as soon as its event is applied (ASVS 8.3.2).

Actions: on a product `use`, `manage`, `technical`, `statistics` or a
kind-specific fine right `fine:<name>`; on the organization itself (no
product) `view` (any member), `administer` (users and rights) and
`accounting` (see and pay invoices, ORG-08).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from uuid import UUID

from .events import (AccountBlocked, AccountUnblocked, Event, MemberAdded, MemberRemoved, MemberRightsChanged,
                     MemberRoleChanged, MemberTwoFactorStatusChanged, OrganizationCreated, OrganizationDeleted,
                     ProductAdded, ProductLocked, ProductMaintenanceChanged, ProductRemoved, ProductUnlocked,
                     TeamChanged, TeamDeleted, TwoFactorPolicyChanged, parse_event)

FULL_ROLES = frozenset({"legal_representative", "administrator"})
LIMITED_ROLES = frozenset({"collaborator", "external"})
ORG_ACTIONS = frozenset({"view", "administer", "accounting"})
BASE_RIGHTS = ("use", "manage", "technical", "statistics")
# What holders of limited rights may still do on a locked product (ORG-10).
ALLOWED_WHEN_LOCKED = frozenset({"use", "statistics"})
CHANNELS = ("web", "sync")  # web = Manager and web apps; sync = app passwords (IMAP, CalDAV, WebDAV)

# Events that change an organization's access state.
ACCESS_EVENTS: tuple[type[Event], ...] = (
    OrganizationCreated, MemberAdded, MemberRoleChanged, MemberRightsChanged, MemberRemoved,
    MemberTwoFactorStatusChanged, TeamChanged, TeamDeleted, ProductAdded, ProductRemoved, ProductLocked,
    ProductUnlocked, ProductMaintenanceChanged, TwoFactorPolicyChanged, OrganizationDeleted)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of the check; `code` is stable and says why when refused."""

    allowed: bool
    code: str

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True, "allowed")
NOT_MEMBER = Decision(False, "not_member")
BLOCKED = Decision(False, "account_blocked")
TWO_FACTOR_REQUIRED = Decision(False, "two_factor_required")
ROLE_REQUIRED = Decision(False, "role_required")
PRODUCT_NOT_FOUND = Decision(False, "product_not_found")
RIGHT_MISSING = Decision(False, "right_missing")
PRODUCT_LOCKED = Decision(False, "product_locked")
IN_MAINTENANCE = Decision(False, "product_in_maintenance")
UNKNOWN_ACTION = Decision(False, "unknown_action")
_EMPTY: frozenset[str] = frozenset()


@dataclass(slots=True)
class Member:
    role: str
    two_factor: bool = False
    accounting: bool = False
    full_access: bool = False
    grants: dict[UUID, frozenset[str]] = field(default_factory=dict)
    category_grants: dict[str, frozenset[str]] = field(default_factory=dict)
    teams: set[UUID] = field(default_factory=set)


@dataclass(slots=True)
class Product:
    kind: str
    category: str
    name: str
    locked: bool = False
    maintenance: bool = False


@dataclass(slots=True)
class Team:
    name: str
    members: set[UUID] = field(default_factory=set)
    grants: dict[UUID, frozenset[str]] = field(default_factory=dict)


def _grants(items) -> dict[UUID, frozenset[str]]:
    return {g.product_id: frozenset(g.rights) for g in items}


@dataclass(slots=True)
class OrgAccess:
    """One organization's access state, as its events describe it."""

    organization_id: UUID
    version: int = 0
    two_factor_required: bool = False
    deleted: bool = False
    members: dict[UUID, Member] = field(default_factory=dict)
    products: dict[UUID, Product] = field(default_factory=dict)
    teams: dict[UUID, Team] = field(default_factory=dict)
    # Events that arrived ahead of an earlier version (org_version -> event
    # JSON), held until the gap is filled: applied early, a MemberRoleChanged
    # before its MemberAdded would be lost for good.
    pending: dict[int, str] = field(default_factory=dict)

    # -- applying events -------------------------------------------------
    def apply(self, event: Event) -> bool:
        """Apply one of organizations' events in org_version order; False if
        it is not newer than the state (a duplicate or late event) or not
        about access. An event ahead of the next version is held in `pending`
        (True: the state changed) and applied once the versions before it are."""
        if type(event) not in _HANDLERS:
            return False
        version = getattr(event, "org_version", 0)
        if version and (version <= self.version or version in self.pending):
            return False
        if version > self.version + 1:
            self.pending[version] = event.model_dump_json()
            return True
        changed = self._apply_now(event, version)
        while self.version + 1 in self.pending:
            changed = self._apply_now(parse_event(self.pending.pop(self.version + 1)), self.version + 1) or changed
        return changed

    def missing_version(self) -> int | None:
        """The version the held events wait for, if any."""
        return self.version + 1 if self.pending else None

    def _apply_now(self, event: Event, version: int) -> bool:
        self.version = max(self.version, version)
        if self.deleted and not isinstance(event, OrganizationDeleted):
            return False  # a deleted organization stays deleted
        _HANDLERS[type(event)](self, event)
        return True

    def _created(self, e: OrganizationCreated) -> None:
        pass

    def _member_added(self, e: MemberAdded) -> None:
        self.members[e.account_id] = Member(
            role=e.role, two_factor=e.two_factor_enabled, accounting=e.accounting, full_access=e.full_access,
            grants=_grants(e.grants), category_grants={c.category: frozenset(c.rights) for c in e.category_grants},
            teams={t for t, team in self.teams.items() if e.account_id in team.members})

    def _role_changed(self, e: MemberRoleChanged) -> None:
        member = self.members.get(e.account_id)
        if member is not None:
            member.role = e.role

    def _rights_changed(self, e: MemberRightsChanged) -> None:
        member = self.members.get(e.account_id)
        if member is not None:
            member.grants = _grants(e.grants)
            member.category_grants = {c.category: frozenset(c.rights) for c in e.category_grants}
            member.full_access, member.accounting = e.full_access, e.accounting

    def _member_removed(self, e: MemberRemoved) -> None:
        self.members.pop(e.account_id, None)
        for team in self.teams.values():
            team.members.discard(e.account_id)

    def _two_factor(self, e: MemberTwoFactorStatusChanged) -> None:
        member = self.members.get(e.account_id)
        if member is not None:
            member.two_factor = e.two_factor_enabled

    def _team_changed(self, e: TeamChanged) -> None:
        old = self.teams.get(e.team_id)
        for account in (old.members if old else set()) - set(e.members):
            if account in self.members:
                self.members[account].teams.discard(e.team_id)
        members = {m for m in e.members if m in self.members}
        for account in members:
            self.members[account].teams.add(e.team_id)
        self.teams[e.team_id] = Team(name=e.name, members=members, grants=_grants(e.grants))

    def _team_deleted(self, e: TeamDeleted) -> None:
        team = self.teams.pop(e.team_id, None)
        for account in team.members if team else ():
            if account in self.members:
                self.members[account].teams.discard(e.team_id)

    def _product_added(self, e: ProductAdded) -> None:
        self.products[e.product_id] = Product(kind=e.kind, category=e.category, name=e.name)

    def _product_removed(self, e: ProductRemoved) -> None:
        self.products.pop(e.product_id, None)

    def _locked(self, e: ProductLocked | ProductUnlocked) -> None:
        product = self.products.get(e.product_id)
        if product is not None:
            product.locked = isinstance(e, ProductLocked)

    def _maintenance(self, e: ProductMaintenanceChanged) -> None:
        product = self.products.get(e.product_id)
        if product is not None:
            product.maintenance = e.maintenance

    def _policy(self, e: TwoFactorPolicyChanged) -> None:
        self.two_factor_required = e.required

    def _deleted(self, e: OrganizationDeleted) -> None:
        self.deleted = True
        self.members.clear()
        self.products.clear()
        self.teams.clear()

    # -- reading ---------------------------------------------------------
    def rights_of(self, account_id: UUID, product_id: UUID) -> frozenset[str] | None:
        """Effective rights of a limited member on a product: own grants ∪
        category grants (future products too) ∪ their teams' grants (ORG-06/07);
        None for full roles and full access (every right)."""
        member = self.members.get(account_id)
        if member is None:
            return _EMPTY
        if member.role in FULL_ROLES or member.full_access:
            return None
        product = self.products.get(product_id)
        if product is None:
            return _EMPTY
        rights = member.grants.get(product_id, _EMPTY) | member.category_grants.get(product.category, _EMPTY)
        for team_id in member.teams:
            team = self.teams.get(team_id)
            if team is not None:
                rights = rights | team.grants.get(product_id, _EMPTY)
        return rights

    # -- storage ---------------------------------------------------------
    def to_doc(self) -> str:
        return json.dumps({
            "v": self.version, "tfa": self.two_factor_required, "del": self.deleted,
            "m": {str(a): [m.role, m.two_factor, m.accounting, m.full_access,
                           {str(p): sorted(r) for p, r in m.grants.items()},
                           {c: sorted(r) for c, r in m.category_grants.items()}]
                  for a, m in self.members.items()},
            "p": {str(p): [x.kind, x.category, x.name, x.locked, x.maintenance] for p, x in self.products.items()},
            "t": {str(t): [x.name, sorted(map(str, x.members)), {str(p): sorted(r) for p, r in x.grants.items()}]
                  for t, x in self.teams.items()},
            **({"pend": {str(v): e for v, e in sorted(self.pending.items())}} if self.pending else {}),
        }, separators=(",", ":"))

    @classmethod
    def from_doc(cls, organization_id: UUID, doc: str) -> "OrgAccess":
        d = json.loads(doc)
        org = cls(organization_id, version=d["v"], two_factor_required=d["tfa"], deleted=d["del"],
                  pending={int(v): e for v, e in d.get("pend", {}).items()})
        for a, (role, tfa, acc, full, grants, cats) in d["m"].items():
            org.members[UUID(a)] = Member(role, tfa, acc, full, {UUID(p): frozenset(r) for p, r in grants.items()},
                                          {c: frozenset(r) for c, r in cats.items()})
        for p, (kind, category, name, locked, maintenance) in d["p"].items():
            org.products[UUID(p)] = Product(kind, category, name, locked, maintenance)
        for t, (name, members, grants) in d["t"].items():
            team_id = UUID(t)
            org.teams[team_id] = Team(name, {UUID(m) for m in members},
                                      {UUID(p): frozenset(r) for p, r in grants.items()})
            for m in org.teams[team_id].members:
                if m in org.members:
                    org.members[m].teams.add(team_id)
        return org


_HANDLERS = {
    OrganizationCreated: OrgAccess._created, MemberAdded: OrgAccess._member_added,
    MemberRoleChanged: OrgAccess._role_changed, MemberRightsChanged: OrgAccess._rights_changed,
    MemberRemoved: OrgAccess._member_removed, MemberTwoFactorStatusChanged: OrgAccess._two_factor,
    TeamChanged: OrgAccess._team_changed, TeamDeleted: OrgAccess._team_deleted,
    ProductAdded: OrgAccess._product_added, ProductRemoved: OrgAccess._product_removed,
    ProductLocked: OrgAccess._locked, ProductUnlocked: OrgAccess._locked,
    ProductMaintenanceChanged: OrgAccess._maintenance, TwoFactorPolicyChanged: OrgAccess._policy,
    OrganizationDeleted: OrgAccess._deleted,
}


def _holds(org: OrgAccess, member: Member, product_id: UUID, category: str, action: str) -> bool:
    """`action` in own grants ∪ category grants ∪ teams' grants, without
    building the union (the hot path of the check)."""
    if action in member.grants.get(product_id, _EMPTY) or action in member.category_grants.get(category, _EMPTY):
        return True
    for team_id in member.teams:
        team = org.teams.get(team_id)
        if team is not None and action in team.grants.get(product_id, _EMPTY):
            return True
    return False


def decide(org: OrgAccess | None, account_id: UUID, action: str, product_id: UUID | None = None, *,
           channel: str = "web", blocked: bool = False) -> Decision:
    """May `account_id` do `action` (on `product_id`, or on the organization
    itself when None) through `channel`? Pure: no I/O, no clock."""
    if blocked:
        return BLOCKED
    member = org.members.get(account_id) if org is not None else None
    if member is None:
        return NOT_MEMBER  # also for unknown and deleted organizations: existence is not revealed
    if org.two_factor_required and not member.two_factor and channel != "sync":
        return TWO_FACTOR_REQUIRED  # ORG-11: sync tools with app passwords keep working
    full = member.role in FULL_ROLES
    if product_id is None:
        if action == "view":
            return ALLOWED
        if action == "administer":
            return ALLOWED if full else ROLE_REQUIRED
        if action == "accounting":
            return ALLOWED if full or member.accounting else ROLE_REQUIRED
        return UNKNOWN_ACTION
    product = org.products.get(product_id)
    if product is None:
        return PRODUCT_NOT_FOUND
    if action == "use" and product.maintenance:
        return IN_MAINTENANCE
    if full:
        return ALLOWED
    if not (action in BASE_RIGHTS or action.startswith("fine:")):
        return UNKNOWN_ACTION
    if not member.full_access and not _holds(org, member, product_id, product.category, action):
        return RIGHT_MISSING
    if product.locked and action not in ALLOWED_WHEN_LOCKED:
        return PRODUCT_LOCKED
    return ALLOWED


class AccessProjection:
    """Many organizations' access state in memory, with the blocked accounts:
    what a process that answers many checks keeps (ORG-09 benchmark)."""

    def __init__(self) -> None:
        self.organizations: dict[UUID, OrgAccess] = {}
        self.blocked: dict[UUID, tuple[int, bool]] = {}

    def apply(self, event: Event) -> bool:
        if isinstance(event, (AccountBlocked, AccountUnblocked)):
            seen = self.blocked.get(event.account_id)
            if seen is not None and event.account_version <= seen[0]:
                return False
            self.blocked[event.account_id] = (event.account_version, isinstance(event, AccountBlocked))
            return True
        organization_id = getattr(event, "organization_id", None)
        if organization_id is None or type(event) not in _HANDLERS:
            return False
        org = self.organizations.get(organization_id)
        if org is None:
            org = self.organizations[organization_id] = OrgAccess(organization_id)
        return org.apply(event)

    def check(self, account_id: UUID, organization_id: UUID, action: str, product_id: UUID | None = None, *,
              channel: str = "web") -> Decision:
        blocked = self.blocked.get(account_id)
        return decide(self.organizations.get(organization_id), account_id, action, product_id, channel=channel,
                      blocked=blocked is not None and blocked[1])
