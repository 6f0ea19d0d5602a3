"""Every event that notifies, through the service and a real SMTP server,
in each of the five languages: the received subjects and bodies are compared
with the snapshots in `tests/snapshots/<template>/<lang>.txt` (NTF-01,
NTF-02). A change of wording is a visible diff; regenerate on purpose with
`UPDATE_SNAPSHOTS=1`.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from manager_shared import events as ev
from manager_shared.clock import FrozenClock
from notifications.catalog import CATALOG
from notifications.models import LANGUAGES, SENT

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
PEOPLE = {"fr": ("Claire", "Europe/Paris"), "en": ("Anna", "Europe/London"), "de": ("Jürg", "Europe/Zurich"),
          "it": ("Chiara", "Europe/Rome"), "es": ("Lucía", "Europe/Madrid")}
# Sent last, in this order: they change the projections the others are resolved from.
LAST = (ev.LoginEmailChanged, ev.MemberRemoved, ev.OrganizationDeleted)
AT = datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)  # when the samples happen (conftest)


def test_ntf_01_every_notifying_event_has_a_sample_and_a_snapshot_in_each_language():
    """The snapshot run below covers the whole catalog: no event type slips through."""
    missing = [f"{kind.template}/{lang}.txt" for kinds in CATALOG.values() for kind in kinds for lang in LANGUAGES
               if not (SNAPSHOTS / kind.template / f"{lang}.txt").exists()]
    assert UPDATE or not missing, "snapshots missing (run with UPDATE_SNAPSHOTS=1):\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_ntf_02_each_event_becomes_the_right_mail_in_each_language(harness_for, sqlite_url, events, mail_catcher,
                                                                        mails, lang, eventually):
    # At the samples' time (a 3-D Secure reminder is only made before its payment expires), nothing held back;
    # billing's operators read the unmatched bank payments, here in the same language.
    harness = await harness_for(sqlite_url, clock=FrozenClock(AT), payment_reminder_minutes=0,
                                invoice_mail_delay_minutes=0,
                                billing_operator_email=f"billing-ops-{lang}@example.ch",
                                billing_operator_language=lang)
    first_name, time_zone = PEOPLE[lang]
    address = f"{first_name.lower().replace('ü', 'u').replace('í', 'i')}-{lang}@example.ch"
    account = events.registered(lang, email=address, first_name=first_name, time_zone=time_zone)
    org_id = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")
    setup = [account,
             ev.OrganizationCreated(organization_id=org_id, name="Muster AG", kind="company",
                                    created_by=account.account_id, currency="CHF"),
             ev.MemberAdded(organization_id=org_id, account_id=account.account_id, role="legal_representative"),
             # the product a renewal names by its id only
             ev.ProductAdded(organization_id=org_id, product_id=uuid.UUID(int=42), kind="domain", category="domain",
                             name="muster-soehne.ch", org_version=2)]
    notifying = sorted(CATALOG, key=lambda e: (LAST.index(e) + 1 if e in LAST else 0, e.__name__))
    samples = [events.sample(event_type, account.account_id, email=address) for event_type in notifying]
    assert await harness.feed(*setup, *samples) == ["processed"] * (len(setup) + len(samples))

    async def all_sent():
        await harness.worker.deliver_due()
        rows = await harness.messages()
        return rows if rows and all(m.status == SENT for m in rows) else None

    rows = await eventually(all_sent, timeout=20)
    expected = sorted(kind.template for kinds in CATALOG.values() for kind in kinds)
    assert sorted({m.template for m in rows}) == expected  # every kind made its message
    assert len({(m.event_id, m.recipient, m.channel) for m in rows}) == len(rows)
    assert {m.language for m in rows} == {lang}

    received = await mails(lambda m: True, count=sum(1 for m in rows if m.channel == "email"))
    rendered: dict[str, str] = {}
    for mail in sorted(received, key=lambda m: m["to"]):  # a message to two people: both, in one file
        template = mail["headers"]["X-Manager-Template"]
        rendered[template] = rendered.get(template, "") + _mail_snapshot(mail)
    sms_file = Path(harness.worker.settings.sms_file_path)
    for line in sms_file.read_text().splitlines():
        sms = json.loads(line)
        rendered["sms_code"] = f"SMS to {sms['to']}\n\n{sms['text']}\n"
    assert sorted(rendered) == sorted(set(expected))
    _compare(rendered, lang)


def _mail_snapshot(mail: dict) -> str:
    text = (f"Subject: {mail['subject']}\nTo: {', '.join(mail['to'])}\n\n{mail['text']}"
            f"\n----- html -----\n{mail['html']}")
    return text.replace("\r\n", "\n")  # as SMTP carried it (CRLF), compared as the file is read


def _compare(rendered: dict[str, str], lang: str) -> None:
    import difflib

    changed, first_diff = [], ""
    for template, text in sorted(rendered.items()):
        path = SNAPSHOTS / template / f"{lang}.txt"
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            changed.append(str(path.relative_to(SNAPSHOTS)))
            if path.exists() and not first_diff:
                first_diff = "".join(difflib.unified_diff(path.read_text().splitlines(True), text.splitlines(True),
                                                          str(path), "received"))
    assert not changed, ("rendered mails differ from the snapshots (UPDATE_SNAPSHOTS=1 to accept):\n"
                         + "\n".join(changed) + "\n" + first_diff)
