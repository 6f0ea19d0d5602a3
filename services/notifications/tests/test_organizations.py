"""Organization messages (NTF-01 for ORG-04, ORG-10..14): recipients come
from the local projection of members and roles as it stands when the event
is handled; the delivery log of an organization is for those who run it."""
from __future__ import annotations

import uuid

import httpx
import pytest

from manager_shared import events as ev
from manager_shared.testing.tokens import TestTokens
from notifications.delivery import REDACTED
from notifications.models import SENT

ORG = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")


def created(name: str = "Muster AG") -> ev.OrganizationCreated:
    return ev.OrganizationCreated(organization_id=ORG, name=name, kind="company", created_by=uuid.uuid4(),
                                  currency="CHF")


def joined(account, role: str = "collaborator", two_factor: bool = False) -> ev.MemberAdded:
    return ev.MemberAdded(organization_id=ORG, account_id=account.account_id, role=role,
                          two_factor_enabled=two_factor)


async def _people(harness, events, *specs):
    """Accounts (language, role, 2FA) in the organization."""
    accounts = [events.registered(lang) for lang, _, _ in specs]
    await harness.feed(*accounts, created(),
                       *(joined(a, role, tf) for a, (_, role, tf) in zip(accounts, specs)))
    return accounts


async def _sent_to(harness, event) -> list[tuple[str, str]]:
    return sorted((m.address, m.language) for m in await harness.messages() if m.event_id == event.event_id)


async def test_ntf_01_org_10_lock_goes_to_every_member_resolved_when_handled(harness, events):
    anna, beat = await _people(harness, events, ("de", "legal_representative", True), ("fr", "collaborator", False))
    locked = events.sample(ev.ProductLocked, anna.account_id)
    await harness.feed(locked)
    assert await _sent_to(harness, locked) == sorted([(anna.email, "de"), (beat.email, "fr")])
    [one] = [m for m in await harness.messages() if m.event_id == locked.event_id and m.language == "fr"]
    assert one.subject == "La gestion de « muster-soehne[.]ch » est verrouillée" and one.organization_id == ORG

    carla = events.registered("it")
    removed = events.sample(ev.MemberRemoved, beat.account_id)
    await harness.feed(carla, joined(carla), removed)
    unlocked = events.sample(ev.ProductUnlocked, anna.account_id)
    await harness.feed(unlocked)
    assert await _sent_to(harness, removed) == [(beat.email, "fr")]  # told before leaving the projection
    assert await _sent_to(harness, unlocked) == sorted([(anna.email, "de"), (carla.email, "it")])


async def test_ntf_01_org_11_two_factor_required_only_to_members_without_it(harness, events):
    anna, beat, carla = await _people(harness, events, ("de", "legal_representative", True),
                                      ("fr", "collaborator", False), ("it", "external", False))
    await harness.feed(ev.MemberTwoFactorStatusChanged(organization_id=ORG, account_id=carla.account_id,
                                                       two_factor_enabled=True, org_version=5))
    required = events.sample(ev.TwoFactorPolicyChanged, anna.account_id)
    lifted = events.sample(ev.TwoFactorPolicyChanged, anna.account_id, required=False)
    await harness.feed(required, lifted)
    assert await _sent_to(harness, required) == [(beat.email, "fr")]
    assert await _sent_to(harness, lifted) == []


async def test_ntf_01_org_11_security_alert_to_the_member_named(harness, events):
    anna, beat = await _people(harness, events, ("de", "administrator", True), ("es", "collaborator", False))
    alert = events.sample(ev.SecurityAlertRequested, beat.account_id)
    await harness.feed(alert)
    [message] = [m for m in await harness.messages() if m.event_id == alert.event_id]
    assert (message.address, message.subject) == (beat.email, "Revisa la seguridad de tu cuenta Manager")
    assert "Beat Keller, administrador de la organización «Muster AG»" in message.body_text


async def test_ntf_01_org_12_details_summary_to_legal_representatives_only(harness, events):
    anna, beat, carla = await _people(harness, events, ("de", "legal_representative", True),
                                      ("fr", "administrator", True), ("en", "legal_representative", False))
    changed = events.sample(ev.OrganizationDetailsChanged, anna.account_id, name="Muster & Partner AG")
    await harness.feed(changed)
    assert await _sent_to(harness, changed) == sorted([(anna.email, "de"), (carla.email, "en")])
    later = events.sample(ev.ProductLocked, anna.account_id)
    await harness.feed(later)  # the projection took the new name
    assert all("Muster &amp; Partner AG" in m.body_html for m in await harness.messages()
               if m.event_id == later.event_id)


@pytest.mark.parametrize(("language", "expected"), [("it", "it"), (None, "en")])
async def test_ntf_01_org_04_invitation_to_an_address_without_account(harness, events, mails, language, expected):
    invitation = events.sample(ev.InvitationCreated, uuid.uuid4(), email="new.person@example.net",
                               language=language)
    await harness.feed(invitation)
    await harness.deliver_until(lambda: _all_sent(harness))
    [mail] = await mails(lambda m: m["to"] == ["new.person@example.net"])
    assert mail["headers"]["Content-Language"] == expected
    assert "inv-7Hq2-Xw9p" in mail["text"]
    [row] = await harness.messages()
    assert (row.account_id, row.recipient, row.body_text) == (None, "new.person@example.net", REDACTED)


async def test_ntf_01_org_04_invitation_to_a_known_address_uses_that_accounts_language(harness, events):
    anna = events.registered("fr", email="Anna@Example.ch")
    invitation = events.sample(ev.InvitationCreated, uuid.uuid4(), email="anna@example.ch", account_exists=True)
    await harness.feed(anna, invitation)
    [row] = await harness.messages()
    assert (row.language, row.account_id) == ("fr", anna.account_id)
    assert row.subject == "Invitation à rejoindre l’organisation « Muster AG » dans le Manager"


async def test_ntf_01_org_14_deletion_tells_the_remaining_member_and_drops_the_projection(harness, events):
    anna, = await _people(harness, events, ("de", "legal_representative", True))
    deleted = events.sample(ev.OrganizationDeleted, anna.account_id)
    locked_after = events.sample(ev.ProductLocked, anna.account_id)
    await harness.feed(deleted, locked_after)
    assert await _sent_to(harness, deleted) == [(anna.email, "de")]
    assert await _sent_to(harness, locked_after) == []  # nobody is left in it


async def test_ntf_04_delivery_log_of_an_organization_for_those_who_run_it(harness, events):
    anna, beat = await _people(harness, events, ("de", "administrator", True), ("fr", "collaborator", False))
    locked = events.sample(ev.ProductLocked, anna.account_id)
    await harness.feed(locked, events.new_location(anna.account_id))  # a personal alert stays out of it
    bearer = TestTokens().trust_in(harness.app).headers
    async with httpx.AsyncClient(transport=httpx.ASGITransport(harness.app), base_url="http://test") as client:
        page = (await client.get("/v1/messages", params={"organization_id": str(ORG)},
                                 headers=bearer(anna.account_id))).json()
        assert sorted((m["address"], m["template"]) for m in page["items"]) == sorted(
            [(anna.email, "product_locked"), (beat.email, "product_locked")])
        assert all(m["organization_id"] == str(ORG) and m["status"] == "pending" for m in page["items"])
        refused = await client.get("/v1/messages", params={"organization_id": str(ORG)},
                                   headers=bearer(beat.account_id))
        assert refused.status_code == 403 and refused.json()["code"] == "not_an_organization_manager"
        stranger = await client.get("/v1/messages", params={"organization_id": str(uuid.uuid4())},
                                    headers=bearer(anna.account_id))
        assert stranger.status_code == 403
        both = await client.get("/v1/messages", params={"organization_id": str(ORG),
                                                        "account_id": str(anna.account_id)},
                                headers=bearer(anna.account_id))
        assert both.status_code == 400 and both.json()["code"] == "account_or_organization"
        bad = await client.get("/v1/messages", params={"organization_id": "not-a-uuid"},
                               headers=bearer(anna.account_id))
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


async def _all_sent(harness):
    rows = await harness.messages()
    return rows if rows and all(m.status == SENT for m in rows) else None
