"""Unit tests: which SMTP failures are retried and which are final (NTF-04)."""
from __future__ import annotations

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
