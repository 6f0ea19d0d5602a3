"""ORG-09: every answer of the access check pinned whole — `allowed` and
`code` — since billing and domains act on `allowed`. A refusal flipped to
"allowed" (or the other way round) must fail a test here."""
from __future__ import annotations

import uuid

import pytest

from manager_shared.access_check import (ALLOWED, BLOCKED, IN_MAINTENANCE, NOT_MEMBER, PRODUCT_LOCKED,
                                         PRODUCT_NOT_FOUND, RIGHT_MISSING, ROLE_REQUIRED, TWO_FACTOR_REQUIRED,
                                         UNKNOWN_ACTION, AccessProjection, Decision, OrgAccess, decide)
from manager_shared.events import (AccountBlocked, AccountUnblocked, CategoryGrant, MemberAdded, MemberRemoved,
                                   MemberRightsChanged, MemberRoleChanged, MemberTwoFactorStatusChanged,
                                   OrganizationCreated, ProductAdded, ProductGrant, ProductLocked,
                                   ProductMaintenanceChanged, ProductRemoved, ProductUnlocked, Recipient,
                                   TeamChanged, TeamDeleted, TwoFactorPolicyChanged)

ORG = uuid.uuid4()
LR, ADMIN, COLLAB, EXTERNAL, FULL, STRANGER = (uuid.uuid4() for _ in range(6))
DOMAIN, DRIVE, MAIL, HOSTING = (uuid.uuid4() for _ in range(4))
TEAM = uuid.uuid4()


class History:
    """Builds one organization's events with consecutive org_versions."""

    def __init__(self) -> None:
        self.version = 0
        self.org = OrgAccess(ORG)

    def add(self, cls, **fields):
        self.version += 1
        event = cls(organization_id=ORG, org_version=self.version, **fields)
        assert self.org.apply(event), event.type
        return event


def _member(h: History, account, role, **extra):
    h.add(MemberAdded, account_id=account, role=role, **extra)


def _world() -> History:
    h = History()
    h.add(OrganizationCreated, name="O", kind="company", created_by=LR, currency="CHF")
    _member(h, LR, "legal_representative", two_factor_enabled=True)
    _member(h, ADMIN, "administrator")
    _member(h, COLLAB, "collaborator")
    _member(h, EXTERNAL, "external")
    _member(h, FULL, "collaborator")
    for product, kind, category in ((DOMAIN, "domain", "domains"), (DRIVE, "drive", "drive"),
                                    (MAIL, "mail_service", "mail"), (HOSTING, "hosting", "web")):
        h.add(ProductAdded, product_id=product, kind=kind, category=category, name=kind)
    h.add(MemberRightsChanged, account_id=COLLAB, changed_by=LR, full_access=False, accounting=True,
          grants=[ProductGrant(product_id=DOMAIN, rights=["use", "manage"])],
          category_grants=[CategoryGrant(category="mail", rights=["use", "fine:aliases"])])
    h.add(MemberRightsChanged, account_id=FULL, changed_by=LR, full_access=True, accounting=False, grants=[],
          category_grants=[])
    h.add(TeamChanged, team_id=TEAM, name="T", members=[COLLAB, EXTERNAL], changed_by=LR,
          grants=[ProductGrant(product_id=DRIVE, rights=["statistics", "technical"])])
    return h


# (who, action, product, expected) on the world above, every field of the answer checked
TABLE = [
    (LR, "view", None, ALLOWED), (LR, "administer", None, ALLOWED), (LR, "accounting", None, ALLOWED),
    (ADMIN, "administer", None, ALLOWED), (ADMIN, "accounting", None, ALLOWED),
    (ADMIN, "manage", DRIVE, ALLOWED), (ADMIN, "fine:anything", HOSTING, ALLOWED),
    (COLLAB, "view", None, ALLOWED), (COLLAB, "administer", None, ROLE_REQUIRED),
    (COLLAB, "accounting", None, ALLOWED),  # the accounting right (ORG-08)
    (EXTERNAL, "accounting", None, ROLE_REQUIRED),
    (COLLAB, "use", DOMAIN, ALLOWED), (COLLAB, "manage", DOMAIN, ALLOWED), (COLLAB, "technical", DOMAIN, RIGHT_MISSING),
    (COLLAB, "use", MAIL, ALLOWED), (COLLAB, "fine:aliases", MAIL, ALLOWED), (COLLAB, "manage", MAIL, RIGHT_MISSING),
    (COLLAB, "statistics", DRIVE, ALLOWED), (COLLAB, "technical", DRIVE, ALLOWED), (COLLAB, "use", DRIVE, RIGHT_MISSING),
    (EXTERNAL, "statistics", DRIVE, ALLOWED), (EXTERNAL, "use", DOMAIN, RIGHT_MISSING),
    (COLLAB, "use", HOSTING, RIGHT_MISSING), (COLLAB, "fine:x", HOSTING, RIGHT_MISSING),
    (FULL, "manage", HOSTING, ALLOWED), (FULL, "fine:x", DOMAIN, ALLOWED), (FULL, "administer", None, ROLE_REQUIRED),
    (FULL, "accounting", None, ROLE_REQUIRED),
    (COLLAB, "delete_everything", DOMAIN, UNKNOWN_ACTION), (COLLAB, "delete_everything", None, UNKNOWN_ACTION),
    (LR, "delete_everything", None, UNKNOWN_ACTION),  # unknown on the organization even for full roles
    (FULL, "delete_everything", DOMAIN, UNKNOWN_ACTION),
    (COLLAB, "use", uuid.uuid4(), PRODUCT_NOT_FOUND), (LR, "use", uuid.uuid4(), PRODUCT_NOT_FOUND),
    (STRANGER, "view", None, NOT_MEMBER), (STRANGER, "use", DOMAIN, NOT_MEMBER),
    (STRANGER, "delete_everything", None, NOT_MEMBER),
]


@pytest.mark.parametrize("who, action, product, expected", TABLE)
def test_org_09_every_answer_is_pinned_whole(who, action, product, expected: Decision):
    answer = decide(_world().org, who, action, product)
    assert (answer.allowed, answer.code) == (expected.allowed, expected.code)
    assert bool(answer) is expected.allowed


def test_org_09_decisions_are_what_they_say():
    assert ALLOWED.allowed and bool(ALLOWED)
    for refusal in (NOT_MEMBER, BLOCKED, TWO_FACTOR_REQUIRED, ROLE_REQUIRED, PRODUCT_NOT_FOUND, RIGHT_MISSING,
                    PRODUCT_LOCKED, IN_MAINTENANCE, UNKNOWN_ACTION):
        assert refusal.allowed is False and not refusal and refusal.code != "allowed"


def test_org_09_a_blocked_account_is_refused_whatever_its_role():
    org = _world().org
    for who in (LR, ADMIN, COLLAB, STRANGER):
        answer = decide(org, who, "view", blocked=True)
        assert (answer.allowed, answer.code) == (False, "account_blocked")
    assert decide(None, LR, "view", blocked=True) == BLOCKED


def test_org_09_unknown_organization_answers_not_member():
    assert decide(None, LR, "administer") == NOT_MEMBER
    assert decide(OrgAccess(uuid.uuid4()), LR, "view") == NOT_MEMBER


def test_org_09_role_change_from_limited_to_administrator_and_back():
    h = _world()
    assert decide(h.org, COLLAB, "technical", HOSTING) == RIGHT_MISSING
    h.add(MemberRoleChanged, account_id=COLLAB, role="administrator", previous_role="collaborator", changed_by=LR,
          organization_name="O", member=Recipient(account_id=COLLAB))
    assert decide(h.org, COLLAB, "technical", HOSTING) == ALLOWED
    assert decide(h.org, COLLAB, "administer") == ALLOWED
    h.add(MemberRoleChanged, account_id=COLLAB, role="external", previous_role="administrator", changed_by=LR,
          organization_name="O", member=Recipient(account_id=COLLAB))
    assert decide(h.org, COLLAB, "technical", HOSTING) == RIGHT_MISSING
    assert decide(h.org, COLLAB, "administer") == ROLE_REQUIRED
    assert decide(h.org, COLLAB, "manage", DOMAIN) == ALLOWED  # own grants survive a role change


def test_org_09_team_grants_end_when_the_member_leaves_or_the_team_goes():
    h = _world()
    h.add(MemberRemoved, account_id=EXTERNAL, reason="removed", removed_by=LR, organization_name="O",
          member=Recipient(account_id=EXTERNAL))
    assert decide(h.org, EXTERNAL, "statistics", DRIVE) == NOT_MEMBER
    h.add(MemberAdded, account_id=EXTERNAL, role="external")  # back, but not in the team any more
    assert decide(h.org, EXTERNAL, "statistics", DRIVE) == RIGHT_MISSING
    assert decide(h.org, COLLAB, "statistics", DRIVE) == ALLOWED
    h.add(TeamDeleted, team_id=TEAM, changed_by=LR)
    assert decide(h.org, COLLAB, "statistics", DRIVE) == RIGHT_MISSING


def test_org_07_team_change_drops_members_taken_out_of_it():
    h = _world()
    h.add(TeamChanged, team_id=TEAM, name="T", members=[EXTERNAL], changed_by=LR,
          grants=[ProductGrant(product_id=DRIVE, rights=["statistics"])])
    assert decide(h.org, COLLAB, "statistics", DRIVE) == RIGHT_MISSING
    assert decide(h.org, EXTERNAL, "statistics", DRIVE) == ALLOWED
    assert decide(h.org, EXTERNAL, "technical", DRIVE) == RIGHT_MISSING  # the team's grants were replaced


def test_org_09_a_removed_product_and_its_grants_are_gone():
    h = _world()
    h.add(ProductRemoved, product_id=DOMAIN)
    assert decide(h.org, COLLAB, "use", DOMAIN) == PRODUCT_NOT_FOUND
    assert decide(h.org, LR, "use", DOMAIN) == PRODUCT_NOT_FOUND


def test_org_10_lock_leaves_use_and_statistics_and_unlock_restores():
    h = _world()
    lock = {"product_name": "d", "kind": "drive", "locked_by": LR, "locked_by_name": None, "organization_name": "O",
            "recipients": []}
    h.add(ProductLocked, product_id=DRIVE, **lock)
    assert decide(h.org, COLLAB, "statistics", DRIVE) == ALLOWED
    assert decide(h.org, COLLAB, "technical", DRIVE) == PRODUCT_LOCKED
    assert decide(h.org, COLLAB, "use", DRIVE) == RIGHT_MISSING  # a lock grants nothing
    assert decide(h.org, FULL, "manage", DRIVE) == PRODUCT_LOCKED
    assert decide(h.org, FULL, "use", DRIVE) == ALLOWED
    assert decide(h.org, ADMIN, "manage", DRIVE) == ALLOWED
    h.add(ProductUnlocked, product_id=DRIVE, product_name="d", unlocked_by=LR, organization_name="O", recipients=[])
    assert decide(h.org, COLLAB, "technical", DRIVE) == ALLOWED


def test_org_10_maintenance_refuses_use_to_everyone_but_not_other_rights():
    h = _world()
    h.add(ProductMaintenanceChanged, product_id=MAIL, product_name="m", maintenance=True, changed_by=LR,
          organization_name="O", recipients=[])
    assert decide(h.org, COLLAB, "use", MAIL) == IN_MAINTENANCE
    assert decide(h.org, LR, "use", MAIL) == IN_MAINTENANCE
    assert decide(h.org, LR, "manage", MAIL) == ALLOWED
    assert decide(h.org, COLLAB, "fine:aliases", MAIL) == ALLOWED
    h.add(ProductMaintenanceChanged, product_id=MAIL, product_name="m", maintenance=False, changed_by=LR,
          organization_name="O", recipients=[])
    assert decide(h.org, COLLAB, "use", MAIL) == ALLOWED


def test_org_11_two_factor_policy_refuses_web_not_sync_and_not_members_with_2fa():
    h = _world()
    h.add(TwoFactorPolicyChanged, required=True, changed_by=LR, organization_name="O", members_without_two_factor=[])
    assert decide(h.org, ADMIN, "administer") == TWO_FACTOR_REQUIRED
    assert decide(h.org, ADMIN, "administer", channel="sync") == ALLOWED
    assert decide(h.org, LR, "administer") == ALLOWED
    assert decide(h.org, STRANGER, "view") == NOT_MEMBER
    h.add(MemberTwoFactorStatusChanged, account_id=ADMIN, two_factor_enabled=True)
    assert decide(h.org, ADMIN, "administer") == ALLOWED
    h.add(MemberTwoFactorStatusChanged, account_id=LR, two_factor_enabled=False)
    assert decide(h.org, LR, "administer") == TWO_FACTOR_REQUIRED
    h.add(TwoFactorPolicyChanged, required=False, changed_by=LR, organization_name="O", members_without_two_factor=[])
    assert decide(h.org, LR, "administer") == ALLOWED


def test_org_09_rights_of_sums_own_category_and_team_grants():
    org = _world().org
    assert org.rights_of(COLLAB, DOMAIN) == {"use", "manage"}
    assert org.rights_of(COLLAB, MAIL) == {"use", "fine:aliases"}
    assert org.rights_of(COLLAB, DRIVE) == {"statistics", "technical"}
    assert org.rights_of(COLLAB, HOSTING) == frozenset()
    assert org.rights_of(STRANGER, DOMAIN) == frozenset()  # a non-member has no rights
    assert org.rights_of(COLLAB, uuid.uuid4()) == frozenset()
    assert org.rights_of(LR, DOMAIN) is None and org.rights_of(FULL, DOMAIN) is None  # every right


def test_org_09_document_round_trip_keeps_teams_and_flags():
    h = _world()
    h.add(TwoFactorPolicyChanged, required=True, changed_by=LR, organization_name="O", members_without_two_factor=[])
    copy = OrgAccess.from_doc(ORG, h.org.to_doc())
    assert (copy.version, copy.two_factor_required, copy.deleted) == (h.org.version, True, False)
    for who, action, product, _ in TABLE:
        assert decide(copy, who, action, product) == decide(h.org, who, action, product)
        assert decide(copy, who, action, product, channel="sync") == decide(h.org, who, action, product,
                                                                             channel="sync")


def test_org_09_projection_keeps_organizations_apart_and_ignores_foreign_events():
    projection = AccessProjection()
    other = uuid.uuid4()
    projection.apply(MemberAdded(organization_id=ORG, account_id=LR, role="legal_representative", org_version=1))
    projection.apply(MemberAdded(organization_id=other, account_id=COLLAB, role="administrator", org_version=1))
    assert projection.check(LR, ORG, "administer") == ALLOWED
    assert projection.check(LR, other, "view") == NOT_MEMBER
    assert projection.check(COLLAB, ORG, "view") == NOT_MEMBER
    from datetime import datetime, timezone
    at = datetime.now(timezone.utc)
    assert projection.apply(AccountBlocked(account_id=LR, account_version=2, reason="x", blocked_at=at))
    assert projection.apply(AccountBlocked(account_id=LR, account_version=2, reason="x", blocked_at=at)) is False
    assert projection.check(LR, ORG, "view") == BLOCKED
    assert projection.apply(AccountUnblocked(account_id=LR, account_version=3, unblocked_at=at))
    assert projection.check(LR, ORG, "view") == ALLOWED


def test_org_09_apply_answers_false_exactly_for_old_duplicate_or_foreign_events():
    h = _world()
    org = h.org
    assert OrgAccess(uuid.uuid4()).version == 0  # nothing applied yet: any first event is newer
    last = MemberRightsChanged(organization_id=ORG, account_id=COLLAB, changed_by=LR, full_access=False,
                               accounting=False, grants=[], category_grants=[], org_version=h.version)
    assert org.apply(last) is False  # same version as the state: a duplicate, not applied
    assert decide(org, COLLAB, "use", DOMAIN) == ALLOWED
    assert org.apply(last.model_copy(update={"org_version": h.version - 3})) is False
    assert org.apply(AccountBlocked(account_id=LR, account_version=1, reason="x",
                                    blocked_at=last.occurred_at)) is False  # not an organization event
    assert org.apply(last.model_copy(update={"org_version": h.version + 1})) is True
    assert decide(org, COLLAB, "use", DOMAIN) == RIGHT_MISSING


def test_org_14_a_deleted_organization_keeps_no_members_products_or_teams():
    from manager_shared.events import OrganizationDeleted

    h = _world()
    h.add(OrganizationDeleted, name="O", deleted_by=LR, send_paid_invoices=False, requester=Recipient(account_id=LR))
    assert (h.org.deleted, h.org.members, h.org.products, h.org.teams) == (True, {}, {}, {})
    assert h.org.apply(MemberAdded(organization_id=ORG, account_id=LR, role="administrator",
                                   org_version=h.version + 1)) is False


def test_org_09_projection_ignores_events_it_does_not_follow():
    from manager_shared.events import InvitationRevoked

    projection = AccessProjection()
    revoked = InvitationRevoked(organization_id=ORG, invitation_id=uuid.uuid4(), email="a@example.ch",
                                revoked_by=LR, organization_name="O")
    assert projection.apply(revoked) is False
    assert projection.organizations == {}  # no empty state is made up for an organization
    assert projection.apply(MemberAdded(organization_id=ORG, account_id=LR, role="administrator",
                                        org_version=1)) is True
    assert projection.apply(MemberAdded(organization_id=ORG, account_id=LR, role="administrator",
                                        org_version=1)) is False


def test_org_14_gap_filled_by_the_deletion_reports_the_change_and_drops_what_was_held():
    h = _world()
    early = MemberAdded(organization_id=ORG, account_id=STRANGER, role="administrator", org_version=h.version + 2)
    assert h.org.apply(early) is True  # held until the version before it arrives
    assert decide(h.org, STRANGER, "view") == NOT_MEMBER
    from manager_shared.events import OrganizationDeleted

    deletion = OrganizationDeleted(organization_id=ORG, name="O", deleted_by=LR, send_paid_invoices=False,
                                   requester=Recipient(account_id=LR), org_version=h.version + 1)
    assert h.org.apply(deletion) is True  # the deletion changed the state, whatever the held event does
    assert (h.org.pending, h.org.members, h.org.version) == ({}, {}, h.version + 2)
    assert decide(h.org, STRANGER, "view") == NOT_MEMBER
