"""Attachments (NTF-01, BIL-06 "send by e-mail"): billing's CSV export
reaches the member who asked for it as a MIME attachment, byte for byte,
through the real SMTP server; the file survives retries and leaves the
delivery log once the message is final (only its name and size stay)."""
from __future__ import annotations

import email
import email.policy
import json
import uuid
from datetime import datetime, timezone

import pytest

from manager_shared import events as ev
from manager_shared.testing.smtp import MailCatcher
from notifications.attachments import Attachment, erased, loaded, stored
from notifications.mailer import build_email
from notifications.models import DEAD, FAILED, SENT, Message
from notifications.schemas import MessageRead

ORG = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")


@pytest.fixture
def catcher():
    """The tests' SMTP catcher (a real aiosmtpd server), which keeps each
    mail's attachments as the bytes a mail client would save."""
    found = MailCatcher().start()
    yield found
    found.stop()


def _message(**over) -> Message:
    values = {"id": 7, "event_id": uuid.uuid4(), "event_type": "InvoicesExported", "recipient": "r",
              "address": "anna@example.ch", "template": "invoices_exported", "language": "de",
              "subject": "Ihr Rechnungsexport (2)", "body_text": "Guten Tag Anna\n", "body_html": "<p>Anna</p>",
              "created_at": datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc),
              "next_attempt_at": datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)}
    return Message(**{**values, **over})


def test_ntf_01_attachment_is_a_mime_part_next_to_the_text_and_html():
    csv = "Nummer;Betrag\r\n2026-000042;1234.50\r\n".encode() + "Zürich «ß»\r\n".encode("utf-8")
    files = [Attachment("Rechnungen März.csv", "text/csv; charset=utf-8", csv),
             Attachment("raw.bin", "application/octet-stream", bytes(range(256)) * 40)]
    raw = build_email(_message(attachments=stored(files)), "Manager <no-reply@manager.example>")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail.get_content_type() == "multipart/mixed"
    assert mail.get_body(("plain",)).get_content() == "Guten Tag Anna\n"
    assert mail.get_body(("html",)).get_content() == "<p>Anna</p>"
    got = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in mail.iter_attachments()]
    assert got == [("Rechnungen März.csv", "text/csv", csv),
                   ("raw.bin", "application/octet-stream", bytes(range(256)) * 40)]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 line limit
    # Without files the mail is exactly what it was before attachments existed.
    assert b"multipart/mixed" not in build_email(_message(), "no-reply@manager.example")


def test_ntf_01_attachment_names_and_types_cannot_break_the_headers():
    evil = Attachment('../../etc/x".csv\r\nBcc: victim@example.org', "text/csv", b"a;b\r\n")
    raw = build_email(_message(attachments=stored([evil])), "no-reply@manager.example")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = mail.iter_attachments()
    assert "Bcc" not in mail and "\n" not in part.get_filename() and "/" not in part.get_filename()
    assert part.get_payload(decode=True) == b"a;b\r\n"
    for bad in ("text/csv\r\nBcc: x", "not a type", "text/csv; name=\"a\"\r\n"):
        with pytest.raises(ValueError):
            Attachment("a.csv", bad, b"")
    with pytest.raises(ValueError):  # a mail no relay would take is refused before it is queued
        stored([Attachment("big.bin", "application/octet-stream", b"\0" * (8 * 1024 * 1024))])


def test_ntf_01_erasing_keeps_names_and_sizes_only():
    kept = stored([Attachment("a.csv", "text/csv", b"1;2\r\n")])
    assert [a.content for a in loaded(kept)] == [b"1;2\r\n"]
    assert json.loads(erased(kept)) == [{"filename": "a.csv", "media_type": "text/csv", "size": 5}]
    assert loaded(erased(kept)) == [] and erased(None) is None and stored([]) is None


async def _people(harness, events):
    rep = events.registered("de", first_name="Jürg")
    bookkeeper = events.registered("fr", first_name="Claire", time_zone="Europe/Paris")
    await harness.feed(rep, bookkeeper,
                       ev.OrganizationCreated(organization_id=ORG, name="Muster AG", kind="company",
                                              created_by=rep.account_id, currency="CHF"),
                       ev.MemberAdded(organization_id=ORG, account_id=rep.account_id, role="legal_representative"),
                       ev.MemberAdded(organization_id=ORG, account_id=bookkeeper.account_id, role="collaborator",
                                      accounting=True))
    return rep, bookkeeper


async def test_ntf_01_bil_06_csv_export_arrives_intact_after_a_retry_then_leaves_the_log(
        harness_for, database_url, events, catcher, eventually):
    harness = await harness_for(database_url, smtp_port=catcher.smtp_port)
    rep, bookkeeper = await _people(harness, events)
    export = events.sample(ev.InvoicesExported, bookkeeper.account_id, filename="factures-2026-03.csv")
    catcher.stop()  # the relay is down when the export is asked for
    try:
        await harness.feed(export)
        assert await harness.worker.deliver_due() == 1
        [failed] = await harness.messages(Message.event_id == export.event_id)
        assert failed.status == FAILED and [a.content for a in loaded(failed.attachments)] == [export.csv.encode()]
    finally:
        catcher.start()

    async def delivered():
        await harness.worker.deliver_due()
        [row] = await harness.messages(Message.event_id == export.event_id)
        return row if row.status == SENT else None
    sent = await eventually(delivered, timeout=10)
    # Only the member who asked gets it, in their language.
    assert (sent.address, sent.language, sent.attempts) == (bookkeeper.email, "fr", 2)
    [mail] = catcher.wait_for(lambda m: m["to"] == [bookkeeper.email], timeout=5)
    assert mail["subject"] == "Votre export de factures (2)" and "Claire" in mail["text"]
    [(filename, media_type, content)] = catcher.files[mail["headers"]["Message-ID"]]
    assert (filename, media_type) == ("factures-2026-03.csv", "text/csv")
    assert content == export.csv.encode("utf-8") and "Zürich, «Müller & Söhne»" in content.decode("utf-8")
    # Delivered: the content is gone, the log still says what was attached.
    assert loaded(sent.attachments) == [] and "Müller" not in sent.attachments
    assert MessageRead.model_validate(sent, from_attributes=True).attachments == ["factures-2026-03.csv"]
    assert len(catcher.messages) == 1


async def test_ntf_01_attachment_of_a_message_given_up_is_erased_too(harness_for, database_url, events, catcher):
    harness = await harness_for(database_url, smtp_port=catcher.smtp_port)
    published = []

    async def publish(body, topic, key, headers):
        published.append((json.loads(body), topic))
    harness.worker.publish = publish
    rep, _ = await _people(harness, events)
    catcher.reject_domain = rep.email.rpartition("@")[2]  # 550: the mailbox does not exist
    export = events.sample(ev.InvoicesExported, rep.account_id)
    await harness.feed(export)
    await harness.worker.deliver_due()
    [dead] = await harness.messages(Message.event_id == export.event_id)
    assert dead.status == DEAD and loaded(dead.attachments) == [] and json.loads(dead.attachments)[0]["size"] > 0
    [(record, topic)] = published
    assert topic == "notifications.message.dlq" and "2026-000042;" not in json.dumps(record)  # no file in the DLQ
