"""ORG-09: the pure access check over a projection of organizations' events."""
from __future__ import annotations

import uuid

from manager_shared.access_check import AccessProjection, OrgAccess, decide
from manager_shared.events import (AccountBlocked, AccountUnblocked, CategoryGrant, MemberAdded, MemberRemoved,
                                   MemberRightsChanged, MemberRoleChanged, MemberTwoFactorStatusChanged,
                                   OrganizationDeleted, ProductAdded, ProductGrant, ProductLocked,
                                   ProductMaintenanceChanged, Recipient, TeamChanged, TwoFactorPolicyChanged)

ORG, LR, COLLAB = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
DOMAIN, DRIVE, MAIL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _history() -> list:
    v = iter(range(1, 100))
    who = Recipient(account_id=COLLAB)
    return [
        MemberAdded(organization_id=ORG, account_id=LR, role="legal_representative", org_version=next(v),
                    two_factor_enabled=True),
        MemberAdded(organization_id=ORG, account_id=COLLAB, role="collaborator", org_version=next(v)),
        ProductAdded(organization_id=ORG, product_id=DOMAIN, kind="domain", category="domains", name="a.ch",
                     org_version=next(v)),
        ProductAdded(organization_id=ORG, product_id=DRIVE, kind="drive", category="drive", name="d",
                     org_version=next(v)),
        ProductAdded(organization_id=ORG, product_id=MAIL, kind="mail_service", category="mail", name="m",
                     org_version=next(v)),
        MemberRightsChanged(organization_id=ORG, account_id=COLLAB, changed_by=LR, full_access=False,
                            accounting=False, org_version=next(v),
                            grants=[ProductGrant(product_id=DOMAIN, rights=["use", "manage"])],
                            category_grants=[CategoryGrant(category="mail", rights=["use"])]),
        TeamChanged(organization_id=ORG, team_id=uuid.uuid4(), name="T", members=[COLLAB], changed_by=LR,
                    grants=[ProductGrant(product_id=DRIVE, rights=["statistics"])], org_version=next(v)),
        MemberRoleChanged(organization_id=ORG, account_id=COLLAB, role="external", previous_role="collaborator",
                          changed_by=LR, org_version=next(v), organization_name="O", member=who),
    ]


def _org() -> OrgAccess:
    org = OrgAccess(ORG)
    for event in _history():
        assert org.apply(event)
    return org


def test_org_09_union_of_own_category_and_team_grants():
    org = _org()
    assert decide(org, COLLAB, "manage", DOMAIN).allowed
    assert decide(org, COLLAB, "use", MAIL).allowed  # category grant
    assert decide(org, COLLAB, "statistics", DRIVE).allowed  # team grant
    assert decide(org, COLLAB, "use", DRIVE).code == "right_missing"
    assert decide(org, COLLAB, "administer").code == "role_required"
    assert decide(org, LR, "technical", DRIVE).allowed and decide(org, LR, "administer").allowed
    assert decide(org, uuid.uuid4(), "view").code == "not_member"
    assert decide(None, LR, "view").code == "not_member"
    assert decide(org, COLLAB, "use", uuid.uuid4()).code == "product_not_found"
    assert decide(org, COLLAB, "delete_everything", DOMAIN).code == "unknown_action"
    assert decide(org, LR, "view", blocked=True).code == "account_blocked"


# organizations numbers an organization's events 1, 2, 3, ... (org_version); a
# projection applies them in that order (tests of early events: test_access_order.py)
def test_org_09_late_or_repeated_events_do_not_roll_back():
    org = _org()
    first_grant = _history()[5]
    assert not org.apply(first_grant)  # already applied (same org_version)
    revoke = MemberRightsChanged(organization_id=ORG, account_id=COLLAB, changed_by=LR, full_access=False,
                                 accounting=False, grants=[], category_grants=[], org_version=9)
    assert org.apply(revoke)
    assert not org.apply(first_grant.model_copy(update={"org_version": 8}))
    assert decide(org, COLLAB, "use", DOMAIN).code == "right_missing"


def test_org_10_11_locks_maintenance_and_two_factor_policy():
    org = _org()
    org.apply(ProductLocked(organization_id=ORG, product_id=DOMAIN, product_name="a.ch", kind="domain", locked_by=LR,
                            locked_by_name=None, organization_name="O", recipients=[], org_version=9))
    assert decide(org, COLLAB, "manage", DOMAIN).code == "product_locked"
    assert decide(org, COLLAB, "use", DOMAIN).allowed
    assert decide(org, LR, "manage", DOMAIN).allowed
    org.apply(ProductMaintenanceChanged(organization_id=ORG, product_id=MAIL, product_name="m", maintenance=True,
                                        changed_by=LR, organization_name="O", recipients=[], org_version=10))
    assert decide(org, COLLAB, "use", MAIL).code == "product_in_maintenance"
    org.apply(TwoFactorPolicyChanged(organization_id=ORG, required=True, changed_by=LR, organization_name="O",
                                     members_without_two_factor=[], org_version=11))
    assert decide(org, COLLAB, "use", DOMAIN).code == "two_factor_required"
    assert decide(org, COLLAB, "use", DOMAIN, channel="sync").allowed
    assert decide(org, LR, "administer").allowed
    org.apply(MemberTwoFactorStatusChanged(organization_id=ORG, account_id=COLLAB, two_factor_enabled=True,
                                           org_version=12))
    assert decide(org, COLLAB, "use", DOMAIN).allowed


def test_org_09_document_round_trip_keeps_every_answer():
    org = _org()
    copy = OrgAccess.from_doc(ORG, org.to_doc())
    for account in (LR, COLLAB):
        for product in (DOMAIN, DRIVE, MAIL, None):
            for action in ("use", "manage", "technical", "statistics", "view", "administer", "accounting"):
                assert decide(copy, account, action, product) == decide(org, account, action, product)
    assert copy.version == org.version


def test_org_09_projection_follows_removal_deletion_and_blocking():
    projection = AccessProjection()
    for event in _history():
        projection.apply(event)
    assert projection.check(COLLAB, ORG, "use", DOMAIN).allowed
    projection.apply(AccountBlocked(account_id=COLLAB, account_version=5, reason="x", blocked_at=_history()[0].occurred_at))
    assert projection.check(COLLAB, ORG, "use", DOMAIN).code == "account_blocked"
    projection.apply(AccountUnblocked(account_id=COLLAB, account_version=4, unblocked_at=_history()[0].occurred_at))
    assert projection.check(COLLAB, ORG, "use", DOMAIN).code == "account_blocked"  # older: ignored
    projection.apply(AccountUnblocked(account_id=COLLAB, account_version=6, unblocked_at=_history()[0].occurred_at))
    projection.apply(MemberRemoved(organization_id=ORG, account_id=COLLAB, reason="removed", removed_by=LR,
                                   org_version=9, organization_name="O", member=Recipient(account_id=COLLAB)))
    assert projection.check(COLLAB, ORG, "use", DOMAIN).code == "not_member"
    projection.apply(OrganizationDeleted(organization_id=ORG, name="O", deleted_by=LR, send_paid_invoices=False,
                                         requester=Recipient(account_id=LR), org_version=10))
    assert projection.check(LR, ORG, "view").code == "not_member"
    late = MemberAdded(organization_id=ORG, account_id=COLLAB, role="administrator", org_version=11)
    assert not projection.apply(late)  # a deleted organization stays deleted
