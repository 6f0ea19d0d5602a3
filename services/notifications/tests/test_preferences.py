"""NTF-05 / IDN-10 / IDN-11: alert choices and language from identity's
AccountPreferencesChanged, honoured for optional alerts only."""
from __future__ import annotations

from datetime import datetime, timezone

from manager_shared.events import AccountPreferencesChanged, LoginFailed


def _prefs(account_id, version, language="en", disabled=()):
    return AccountPreferencesChanged(account_id=account_id, account_version=version, language=language,
                                     time_zone="Europe/Rome", disabled_alerts=list(disabled))


def _failed(account_id):
    return LoginFailed(account_id=account_id, account_version=1, ip="80.128.1.1", country="DE",
                       device="Firefox on Windows", attempts=1, failed_at=datetime.now(timezone.utc))


async def test_ntf_05_turned_off_alert_is_not_sent_others_still_are(harness, events):
    account = events.registered("en")
    await harness.feed(account, _prefs(account.account_id, 2, disabled=["LoginFailed"]))
    await harness.feed(_failed(account.account_id), events.new_location(account.account_id))
    assert [m.template for m in await harness.messages()] == ["login_from_new_location"]


async def test_idn_11_language_change_applies_to_the_next_mail_and_old_events_do_not_undo_it(harness, events):
    account = events.registered("en")
    await harness.feed(account, _prefs(account.account_id, 3, language="it"),
                       _prefs(account.account_id, 2, language="fr", disabled=["LoginFromNewLocation"]))
    await harness.feed(events.new_location(account.account_id))
    sent = await harness.messages()
    assert [(m.language, m.template) for m in sent] == [("it", "login_from_new_location")]


async def test_ntf_05_mandatory_password_changed_mail_ignores_alert_choices(harness, events):
    from manager_shared.events import PasswordChanged

    account = events.registered("de")
    await harness.feed(account, _prefs(account.account_id, 2, language="de",
                                       disabled=["LoginFailed", "LoginFromNewLocation"]))
    await harness.feed(PasswordChanged(account_id=account.account_id, account_version=3, ip="80.128.1.1",
                                       country="DE", device="Firefox on Windows",
                                       changed_at=datetime.now(timezone.utc)))
    sent = await harness.messages()
    assert [(m.template, m.language, m.subject) for m in sent] == [
        ("password_changed", "de", "Das Passwort Ihres Manager-Kontos wurde geändert")]
    assert "Letzte Aktivitäten" in sent[0].body_text and "http" not in sent[0].body_html


async def test_ntf_01_idn_18_block_and_unblock_mails_always_go(harness, events):
    from manager_shared.events import AccountBlocked, AccountUnblocked

    account = events.registered("it")
    now = datetime.now(timezone.utc)
    await harness.feed(account, _prefs(account.account_id, 2, language="it",
                                       disabled=["LoginFailed", "LoginFromNewLocation"]),
                       AccountBlocked(account_id=account.account_id, account_version=3, reason="incident",
                                      blocked_at=now),
                       AccountUnblocked(account_id=account.account_id, account_version=4, unblocked_at=now))
    assert [(m.template, m.subject) for m in await harness.messages()] == [
        ("account_blocked", "Il tuo account Manager è stato bloccato"),
        ("account_unblocked", "Il tuo account Manager è stato sbloccato")]
