"""Unit tests: which SMTP failures are retried and which are final (NTF-04)."""
from __future__ import annotations

import hashlib
import uuid

import aiosmtplib
import pytest

from notifications.config import Settings
from notifications.delivery import DeliveryWorker
from notifications.mailer import classify

Refused = aiosmtplib.SMTPRecipientRefused


@pytest.mark.parametrize(("exc", "status"), [
    (aiosmtplib.SMTPRecipientsRefused([Refused(550, "mailbox unavailable", "a@bad.example")]), "dead"),
    (aiosmtplib.SMTPRecipientsRefused([Refused(451, "try later", "a@example.com")]), "retry"),
    (aiosmtplib.SMTPDataError(554, "content rejected"), "dead"),
    (aiosmtplib.SMTPDataError(452, "insufficient storage"), "retry"),
    (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), "retry"),
    (aiosmtplib.SMTPSenderRefused(550, "sender not allowed", "no-reply@manager.local"), "retry"),
    (aiosmtplib.SMTPConnectError("refused"), "retry"),
    (aiosmtplib.SMTPServerDisconnected("gone"), "retry"),
    (ConnectionRefusedError(111, "Connection refused"), "retry"),
    (TimeoutError(), "retry"),
    (ValueError("address contains newline"), "dead"),
])
def test_ntf_04_failures_sorted_into_retry_or_dead(exc, status):
    outcome = classify(exc)
    assert outcome.status == status
    assert type(exc).__name__ in outcome.error


def test_ntf_04_backoff_doubles_up_to_a_cap():
    settings = Settings(delivery_backoff_base=30, delivery_backoff_max=3600)

    class NoDb:
        def on_commit(self, hook):
            pass

    worker = DeliveryWorker(NoDb(), transports={}, clock=None, settings=settings, publish=None)
    assert [worker.backoff(n).total_seconds() for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


def _message(**over):
    import uuid
    from datetime import datetime, timezone

    from notifications.models import Message

    values = dict(id=7, event_id=uuid.uuid4(), event_type="X", recipient="k", address="anna@example.ch",
                  channel="email", template="t", language="it", status="pending", attempts=0,
                  subject="Invito a entrare nell’organizzazione «Muster AG» nel Manager – con un oggetto lungo äöü",
                  body_text="Ciao Anna,\n\nriga 2\n", body_html="<p>Ciao Anna</p>",
                  created_at=datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc),
                  next_attempt_at=datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc))
    return Message(**{**values, **over})


def test_ntf_02_mime_round_trips_subject_and_bodies_exactly():
    """Long non-ASCII subjects survive encoding word by word (the email
    package's folding used to drop or double spaces at fold points)."""
    import email
    import email.policy

    from notifications.mailer import build_email

    message = _message()
    parsed = email.message_from_bytes(build_email(message, "Manager Zürich <no-reply@manager.ch>"),
                                      policy=email.policy.default)
    assert str(parsed["Subject"]) == message.subject
    assert str(parsed["From"]) == "Manager Zürich <no-reply@manager.ch>"
    key = hashlib.sha256(f"{message.event_id}|k|email".encode()).hexdigest()
    assert parsed["Message-ID"] == f"<{key}@notifications.manager.ch>"
    assert parsed.get_body(("plain",)).get_content() == message.body_text
    assert parsed.get_body(("html",)).get_content() == message.body_html
    assert parsed["Content-Language"] == "it" and parsed["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("field", ["address", "subject"])
def test_ntf_04_a_line_break_cannot_inject_headers(field):
    from notifications.mailer import build_email

    with pytest.raises(ValueError):
        build_email(_message(**{field: "x@example.ch\r\nBcc: victim@example.org"}), "no-reply@manager.ch")


def _message_id(message) -> str:
    import email
    import email.policy

    from notifications.mailer import build_email

    return email.message_from_bytes(build_email(message, "Manager <no-reply@manager.ch>"),
                                    policy=email.policy.default)["Message-ID"]


def test_ntf_04_message_id_is_stable_across_re_sends():
    """One (event, recipient, channel), one Message-ID: a copy sent again after
    a crash (a later try, even a re-made row) can be dropped by the receiver."""
    event_id = uuid.uuid4()
    first = _message(event_id=event_id, recipient="acc-1")
    again = _message(event_id=event_id, recipient="acc-1", id=99, attempts=3, subject="other", body_text="x")
    assert _message_id(first) == _message_id(again) == _message_id(first)
    assert _message_id(first).endswith("@notifications.manager.ch>")
    assert _message_id(_message(event_id=event_id, recipient="acc-2")) != _message_id(first)
    assert _message_id(_message(event_id=uuid.uuid4(), recipient="acc-1")) != _message_id(first)


async def test_ntf_04_sms_idempotency_key_is_the_same_stable_key():
    from notifications.sms import SmsTransport
    from notifications.transport import Outcome, delivery_key

    references = []

    class Gateway:
        async def send(self, sms):
            references.append(sms.reference)
            return Outcome("sent")

    event_id = uuid.uuid4()
    transport = SmsTransport(Gateway())
    for row_id in (1, 2):
        await transport.send(_message(id=row_id, event_id=event_id, recipient="acc-1", channel="sms",
                                      address="+41791234567"))
    assert references == [delivery_key(event_id, "acc-1", "sms")] * 2
    assert f"<{delivery_key(event_id, 'acc-1', 'email')}@" in _message_id(_message(event_id=event_id,
                                                                                   recipient="acc-1"))
