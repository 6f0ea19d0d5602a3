"""X-02: every event's JSON schema is snapshotted in shared/contracts/, so any
contract change shows up as a diff in review. Regenerate on purpose with
UPDATE_CONTRACTS=1 ./manager test shared/tests/test_contracts.py"""
from __future__ import annotations

import json
import os
from pathlib import Path

from manager_shared.events import ALL_EVENTS, EVENTS_BY_TYPE, parse_event

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def _snapshot_name(event) -> str:
    return f"{event.topic}.{event.model_fields['type'].default}.json"


def _schema(event) -> str:
    return json.dumps({"topic": event.topic, "schema": event.model_json_schema()}, indent=2, sort_keys=True) + "\n"


def test_x_02_event_schemas_match_snapshots():
    if os.environ.get("UPDATE_CONTRACTS"):
        CONTRACTS.mkdir(exist_ok=True)
        for old in CONTRACTS.glob("*.json"):
            old.unlink()
        for event in ALL_EVENTS:
            (CONTRACTS / _snapshot_name(event)).write_text(_schema(event))
    expected = {_snapshot_name(e): _schema(e) for e in ALL_EVENTS}
    on_disk = {p.name: p.read_text() for p in CONTRACTS.glob("*.json")}
    assert sorted(on_disk) == sorted(expected), "an event was added or removed: snapshot it on purpose"
    for name, schema in expected.items():
        assert on_disk[name] == schema, f"contract {name} changed: review the diff and regenerate on purpose"


def test_x_02_every_event_has_envelope_docstring_and_versioned_topic():
    for event in ALL_EVENTS:
        fields = event.model_fields
        for envelope in ("event_id", "type", "version", "occurred_at", "producer", "key", "correlation_id"):
            assert envelope in fields, (event.__name__, envelope)
        assert event.__doc__ and len(event.__doc__.strip()) > 20, f"{event.__name__} needs a docstring"
        assert event.topic.rsplit(".", 1)[-1].startswith("v"), event.topic
        assert event.__name__ == fields["type"].default


def test_x_02_round_trip_fills_producer_and_key():
    from manager_shared.events import AccountRegistered
    import uuid

    account = uuid.uuid4()
    event = AccountRegistered(account_id=account, account_version=1, email="a@example.com", first_name="A",
                              last_name="B", language="fr", time_zone="Europe/Paris")
    assert event.producer == "identity" and event.key == str(account)
    again = parse_event(event.to_bytes())
    assert again == event and type(again) is AccountRegistered
    assert set(EVENTS_BY_TYPE) == {e.__name__ for e in ALL_EVENTS}


def test_x_02_event_datetimes_are_rfc3339_with_an_offset():
    """Whatever a producer passes (a naive value read from SQLite before the
    aware column type, or another offset), every event time travels as UTC
    with its offset, and reads back as the same instant."""
    import re
    import uuid
    from datetime import datetime, timedelta, timezone

    from manager_shared.events import AccountBlocked

    zurich = timezone(timedelta(hours=1))
    event = AccountBlocked(account_id=uuid.uuid4(), account_version=2, reason="support",
                           blocked_at=datetime(2026, 3, 5, 14, 4, 5),
                           occurred_at=datetime(2026, 3, 5, 15, 4, 5, tzinfo=zurich))
    body = json.loads(event.to_bytes())
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
    assert rfc3339.match(body["occurred_at"]) and rfc3339.match(body["blocked_at"])
    assert parse_event(event.to_bytes()).occurred_at == datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)
    assert parse_event(event.to_bytes()).blocked_at.utcoffset() == timedelta(0)
