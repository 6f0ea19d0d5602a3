"""The catalog is the registry of what notifies (NTF-01): every event of
identity and organizations is either in it or listed here with the reason it
does not make a message, so a new event forces a decision."""
from __future__ import annotations

from manager_shared.events import identity, organizations
from notifications.catalog import CATALOG
from notifications.models import LANGUAGES
from notifications.rendering import Renderer

DOES_NOT_NOTIFY = {
    "AccountRegistered": "projection only (contact data)",
    "AccountPreferencesChanged": "projection only (language, time zone, alert choices)",
    "AppPasswordRevoked": "the owner revoked it; sync servers drop their cache",
    "SessionsEnded": "token refusal in every service; a password change or block has its own message",
    "OrganizationCreated": "projection only (name)",
    "MemberAdded": "projection only; the invitee was mailed the invitation",
    "MemberRoleChanged": "projection only (role)",
    "MemberRightsChanged": "projection only here (the accounting right, ORG-08: who hears about money)",
    "MemberTwoFactorStatusChanged": "projection only (who lacks 2FA, for the 2FA-required notice)",
    "TeamChanged": "access projections of the product services",
    "TeamDeleted": "access projections of the product services",
    "ProductAdded": "projection only (product names, for renewal messages)",
    "ProductRemoved": "product registry",
    "ProductMaintenanceChanged": "not yet: a maintenance notice is a follow-up (ORG-10 names only the lock)",
    "InvitationRevoked": "the invitee's code stops working; nothing to tell",
}


def test_ntf_01_every_identity_and_organizations_event_is_classified():
    names = {e.__name__ for e in identity.EVENTS + organizations.EVENTS}
    notifying = {e.__name__ for e in CATALOG}
    unclassified = names - notifying - set(DOES_NOT_NOTIFY)
    assert not unclassified, f"decide whether these notify (catalog.py) or not (DOES_NOT_NOTIFY): {unclassified}"
    assert not notifying & set(DOES_NOT_NOTIFY)
    assert set(DOES_NOT_NOTIFY) <= names  # no stale entries


def test_ntf_01_a_notifying_event_without_a_template_in_a_language_fails():
    """The guard itself: a catalog entry whose template is missing a language is reported."""
    renderer = Renderer()
    kinds = [k for ks in CATALOG.values() for k in ks]
    assert len({k.template for k in kinds}) >= 24
    for kind in kinds:
        for lang in LANGUAGES:
            for name in renderer.names(kind.template, lang, kind.channel):
                assert name in renderer.env.list_templates(), name
    assert "no_such_message/it.txt" not in renderer.env.list_templates()
