"""Messages to addresses carried by events and one-time codes (NTF-01,
NTF-03, IDN-06, IDN-13, IDN-14c): the right address, the code delivered,
never logged, erased from the log once delivered."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from manager_shared.events import (LoginEmailChanged, LoginEmailChangeRequested, PasswordResetRequested,
                                   SmsCodeRequested)
from notifications.delivery import REDACTED
from notifications.models import DEAD, SENT


async def _all(harness, status):
    found = await harness.messages()
    return found if found and all(m.status == status for m in found) else None


async def test_idn_06_code_to_the_new_address_notice_to_the_old(harness, events, mails):
    account = events.registered("fr", email="claire@example.com", first_name="Claire")
    change = events.sample(LoginEmailChangeRequested, account.account_id, email="claire@example.com")
    await harness.feed(account, change)
    queued = await harness.messages()
    assert [(m.template, m.address, m.secret, m.account_id) for m in queued] == [
        ("login_email_change_code", "anna.new@example.org", True, account.account_id),
        ("login_email_change_requested", "claire@example.com", False, account.account_id)]
    await harness.deliver_until(lambda: _all(harness, SENT))
    [code_mail] = await mails(lambda m: m["to"] == ["anna.new@example.org"])
    [notice] = await mails(lambda m: m["to"] == ["claire@example.com"])
    assert code_mail["subject"] == "Confirmez votre nouvelle adresse de connexion Manager"
    assert "250617" in code_mail["text"] and "250617" in code_mail["html"] and "Claire" in code_mail["text"]
    assert "250617" not in notice["text"] + notice["html"]
    assert "a•••@example[.]org" in notice["text"]  # the new address hinted, not given away
    # Delivered: the code is of no use in the log any more.
    code_row = next(m for m in await harness.messages() if m.secret)
    assert code_row.body_text == REDACTED and code_row.body_html is None


async def test_idn_06_change_confirmed_tells_the_old_address_and_later_mail_goes_to_the_new(harness, events, mails):
    account = events.registered("de", email="berta@example.com")
    changed = events.sample(LoginEmailChanged, account.account_id, email="berta@example.com")
    await harness.feed(account, changed, events.new_location(account.account_id))
    assert [(m.template, m.address) for m in await harness.messages()] == [
        ("login_email_changed", "berta@example.com"), ("login_from_new_location", "anna.new@example.org")]
    await harness.deliver_until(lambda: _all(harness, SENT))
    [old] = await mails(lambda m: m["to"] == ["berta@example.com"])
    assert old["subject"] == "Die Anmelde-E-Mail Ihres Manager-Kontos wurde geändert"


async def test_idn_13_reset_code_mailed_to_the_address_in_the_event(harness, events, mails):
    account = events.registered("it", email="login@example.com")
    reset = events.sample(PasswordResetRequested, account.account_id, email="recovery@example.net")
    await harness.feed(account, reset)
    await harness.deliver_until(lambda: _all(harness, SENT))
    [mail] = await mails(lambda m: m["to"] == ["recovery@example.net"])
    assert mail["subject"] == "Il tuo codice per reimpostare la password Manager"
    assert "731904" in mail["text"] and "Germania" in mail["text"]
    assert not [m for m in (await mails(lambda m: True)) if m["to"] == ["login@example.com"]]


async def test_idn_14_sms_code_through_the_file_sink_and_never_logged(harness, events, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    account = events.registered("en")
    sms = events.sample(SmsCodeRequested, account.account_id)
    assert await harness.feed(account, sms) == ["processed", "processed"]
    await harness.deliver_until(lambda: _all(harness, SENT))
    [line] = Path(harness.worker.settings.sms_file_path).read_text().splitlines()
    received = json.loads(line)
    assert received["to"] == "+41791234567"
    assert received["text"] == ("Your Manager sign-in code: 482913 (valid until 3:09 PM). "
                                "Never share it with anyone.")
    [row] = await harness.messages()
    assert (row.channel, row.subject, row.body_text, row.secret) == ("sms", "", REDACTED, True)
    assert "482913" not in caplog.text


async def test_ntf_03_sms_to_a_number_that_is_not_e164_is_dead(harness, events):
    published = []

    async def publish(body, topic, key, headers):
        published.append(headers)

    harness.worker.publish = publish
    account = events.registered("en")
    await harness.feed(account, events.sample(SmsCodeRequested, account.account_id, phone="0791234567"))
    await harness.deliver_until(lambda: _all(harness, DEAD))
    [row] = await harness.messages()
    assert "E.164" in row.last_error and row.body_text == REDACTED
    assert published[0]["x-channel"] == "sms"
