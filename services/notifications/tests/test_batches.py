"""A Kafka batch is applied in one transaction, contact data read once for
the whole batch: changes earlier in the batch still count for later events."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from manager_shared.events import AccountPreferencesChanged, LoginEmailChanged


def _records(*events):
    return [SimpleNamespace(topic=e.topic, value=e.to_bytes(), partition=0, offset=i, key=e.key.encode())
            for i, e in enumerate(events)]


async def test_ntf_02_changes_inside_a_batch_apply_to_the_events_after_them(harness, events):
    first, second = events.registered("en"), events.registered("de")
    login_1, login_2, login_3 = (events.new_location(first.account_id) for _ in range(3))
    prefs = AccountPreferencesChanged(account_id=first.account_id, account_version=2, language="it",
                                      time_zone="Europe/Rome", disabled_alerts=[])
    moved = events.sample(LoginEmailChanged, first.account_id, email=first.email, account_version=3)
    login_second = events.new_location(second.account_id)
    outcomes = await harness.consumer.handle_records(_records(
        first, login_1, prefs, login_2, moved, login_3, second, login_second))
    assert outcomes == ["processed"] * 8
    rows = await harness.messages()
    assert [(m.event_id, m.language, m.address) for m in rows] == [
        (login_1.event_id, "en", first.email),
        (login_2.event_id, "it", first.email),
        (moved.event_id, "it", first.email),  # the notice goes to the old address
        (login_3.event_id, "it", "anna.new@example.org"),
        (login_second.event_id, "de", second.email)]


async def test_ntf_04_a_batch_that_fails_is_applied_event_by_event(harness, events):
    """An event whose account is unknown fails the batch: the others are
    still applied one by one (the unknown one is retried and dead-lettered)."""
    account = events.registered("fr")
    good = events.new_location(account.account_id)
    harness.consumer._dead_letter = _no_broker
    unknown = events.new_location(uuid.UUID(int=1))
    outcomes = await harness.consumer.handle_records(_records(account, unknown, good))
    assert outcomes == ["processed", "dead_lettered", "processed"]
    assert [m.event_id for m in await harness.messages()] == [good.event_id]


async def _no_broker(*args, **kwargs):
    return None
