"""Messages held back until they are still true (NTF-01, BIL-03, BIL-06).

3-D Secure pending too long: a card payment waiting for the cardholder is
reminded only if it is still waiting after NOTIFICATIONS_PAYMENT_REMINDER_MINUTES;
completing, failing or expiring first means no reminder at all. "Invoice
issued" waits NOTIFICATIONS_INVOICE_MAIL_DELAY_MINUTES: an invoice paid
meanwhile gets only its receipt. Real SMTP server, SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from manager_shared import events as ev
from manager_shared.clock import FrozenClock
from notifications.models import CANCELLED, PENDING, SENT, Message
from notifications.schemas import MessageRead

ORG = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")
START = datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc)


async def _setup(harness_for, database_url, events, clock):
    harness = await harness_for(database_url, clock=clock, payment_reminder_minutes=10)
    rep = events.registered("de", time_zone="Europe/Zurich")
    await harness.feed(rep, ev.MemberAdded(organization_id=ORG, account_id=rep.account_id,
                                           role="legal_representative"))
    return harness, rep


def _waiting(events, rep, purpose: str = "invoices", expires_in: float = 30) -> ev.PaymentActionRequired:
    return events.sample(ev.PaymentActionRequired, rep.account_id, payment_id=uuid.uuid4(), purpose=purpose,
                         occurred_at=START, expires_at=START + timedelta(minutes=expires_in))


async def _rows(harness, event) -> list[Message]:
    return await harness.messages(Message.event_id == event.event_id)


async def test_ntf_01_still_waiting_after_the_delay_is_reminded_once(harness_for, database_url, events,
                                                                    mail_catcher, mails):
    clock = FrozenClock(START + timedelta(seconds=5))
    harness, rep = await _setup(harness_for, database_url, events, clock)
    waiting = _waiting(events, rep)
    await harness.feed(waiting)
    [held] = await _rows(harness, waiting)
    assert (held.status, held.next_attempt_at) == (PENDING, START + timedelta(minutes=10))
    clock.advance(minutes=9)
    assert await harness.worker.deliver_due() == 0  # not yet: it may still complete
    clock.advance(minutes=1)
    assert await harness.worker.deliver_due() == 1
    [mail] = await mails(lambda m: m["to"] == [rep.email])
    assert mail["subject"] == "Ihre Zahlung wartet noch auf Ihre Bestätigung"
    assert "5. März 2026, 15:30:00" in mail["text"]  # the deadline, in Zurich time
    [sent] = await _rows(harness, waiting)
    assert sent.status == SENT


async def test_ntf_01_settled_before_the_delay_no_reminder(harness_for, database_url, events, mail_catcher):
    clock = FrozenClock(START + timedelta(minutes=1))
    harness, rep = await _setup(harness_for, database_url, events, clock)
    paid, topped_up, failed, pending = (_waiting(events, rep), _waiting(events, rep, "top_up"),
                                        _waiting(events, rep), _waiting(events, rep))
    await harness.feed(paid, topped_up, failed, pending)
    await harness.feed(
        events.sample(ev.PaymentCompleted, rep.account_id, payment_id=paid.payment_id, invoice_ids=[uuid.uuid4()],
                      prepaid_minor=0, card_minor=paid.amount_minor, currency="CHF"),
        events.sample(ev.PrepaidTopUpCredited, rep.account_id, top_up_id=topped_up.payment_id),
        events.sample(ev.PaymentFailed, rep.account_id, payment_id=failed.payment_id, reason="authentication_failed"))
    statuses = {e.payment_id: [m.status for m in await _rows(harness, e)] for e in (paid, topped_up, failed, pending)}
    assert statuses == {paid.payment_id: [CANCELLED], topped_up.payment_id: [CANCELLED],
                        failed.payment_id: [CANCELLED], pending.payment_id: [PENDING]}
    [cancelled] = await _rows(harness, paid)
    assert MessageRead.model_validate(cancelled, from_attributes=True).status == "cancelled"
    clock.advance(minutes=30)
    while await harness.worker.deliver_due():
        pass
    # Only the one still pending was reminded; the failure and the top-up have their own messages.
    reminders = [m for m in mail_catcher.messages if m["headers"]["X-Manager-Template"] == "payment_action_required"]
    assert len(reminders) == 1
    assert [m.status for m in await _rows(harness, pending)] == [SENT]


async def test_ntf_01_settled_in_the_same_batch_is_never_written(harness_for, sqlite_url, events):
    """Both events handled in one transaction (one consumer batch): the reminder is dropped before it is stored."""
    harness, rep = await _setup(harness_for, sqlite_url, events, FrozenClock(START))
    waiting = _waiting(events, rep)
    completed = events.sample(ev.PaymentFailed, rep.account_id, payment_id=waiting.payment_id, reason="declined")
    async with harness.runtime.db.transaction() as session:
        await harness.service.handle(session, waiting)
        await harness.service.handle(session, completed)
    assert await _rows(harness, waiting) == []
    assert [m.template for m in await _rows(harness, completed)] == ["payment_failed"]


async def test_ntf_01_no_reminder_for_a_payment_that_expires_first_or_is_seen_late(harness_for, database_url,
                                                                                 events):
    clock = FrozenClock(START)
    harness, rep = await _setup(harness_for, database_url, events, clock)
    short = _waiting(events, rep, expires_in=10)  # expires when the reminder would go
    await harness.feed(short)
    clock.advance(minutes=45)  # the consumer lagged: this one expired before it was seen
    late = _waiting(events, rep)
    await harness.feed(late)
    assert await _rows(harness, short) == [] and await _rows(harness, late) == []


async def test_ntf_01_invoice_paid_at_once_gets_only_its_receipt(harness_for, database_url, events, mail_catcher,
                                                                 mails):
    """Like Stripe: an invoice paid from the prepaid balance (an automatic renewal) is not announced as due."""
    clock = FrozenClock(START)
    harness, rep = await _setup(harness_for, database_url, events, clock)
    renewal = events.sample(ev.InvoiceIssued, rep.account_id, invoice_id=uuid.uuid4(), number="2026-000050",
                            occurred_at=START)
    open_one = events.sample(ev.InvoiceIssued, rep.account_id, invoice_id=uuid.uuid4(), number="2026-000051",
                             occurred_at=START)
    paid = events.sample(ev.InvoicePaid, rep.account_id, invoice_id=renewal.invoice_id, number="2026-000050",
                         means="prepaid")
    await harness.feed(renewal, open_one, paid)
    assert [m.status for m in await _rows(harness, renewal)] == [CANCELLED]
    clock.advance(minutes=2)  # NOTIFICATIONS_INVOICE_MAIL_DELAY_MINUTES
    while await harness.worker.deliver_due():
        pass
    got = sorted(m["subject"] for m in await mails(lambda m: m["to"] == [rep.email], count=2))
    assert got == ["Neue Rechnung 2026-000051, zahlbar bis 4. April 2026", "Zahlung für Rechnung 2026-000050 erhalten"]
    assert "Prepaid-Guthaben" in next(m["text"] for m in mail_catcher.messages if "erhalten" in m["subject"])
