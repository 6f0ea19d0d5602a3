"""X-06 / IDN-16: one-time codes and invitation tokens travel sealed to
notifications' key: unit tests of the sealing, of the refusal to send them in
clear, and of what dead letters may say about an error."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from manager_shared import events as ev
from manager_shared.consumer import safe_error, safe_trace
from manager_shared.events import ALL_EVENTS, parse_event
from manager_shared.sealing import (Keyring, SealedSecret, Sealer, SealingError, SealingNotConfigured,
                                    generate_key_pair, open_event, producer_sealer, sealed_fields)

AT = datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc)
CODE = "73918264"


def reset_requested(code: str = CODE, **over) -> ev.PasswordResetRequested:
    return ev.PasswordResetRequested(**{"account_id": uuid.uuid4(), "account_version": 3, "email": "anna@example.ch",
                                        "code": code, "expires_at": AT, "ip": "80.128.1.1", "country": "DE",
                                        "device": "Firefox", **over})


@pytest.fixture
def pair():
    private, public = generate_key_pair()
    return Keyring([private]), Sealer(public)


def test_x_06_every_secret_field_of_every_event_is_sealed():
    """The secrets the events carry (codes, invitation token) are exactly the
    sealed fields; no other field has a secret-looking name."""
    sealed = {(e.__name__, f) for e in ALL_EVENTS for f in sealed_fields(e)}
    assert sealed == {("PasswordResetRequested", "code"), ("SmsCodeRequested", "code"),
                      ("LoginEmailChangeRequested", "code"), ("InvitationCreated", "token")}
    secret_words = ("code", "token", "secret", "password", "otp")
    public = {"offer_code"}  # billing's catalogue code of an offer (e.g. domain.ch.renew), published in its API
    for event in ALL_EVENTS:
        for name in event.model_fields:
            if any(w in name for w in secret_words) and not name.endswith("_id") and name not in public:
                assert name in sealed_fields(event), (event.__name__, name)


def test_x_06_sealed_on_the_wire_and_opened_by_the_keyring(pair):
    keyring, sealer = pair
    event = reset_requested()
    body = event.to_bytes(sealer)
    assert CODE.encode() not in body
    wire = json.loads(body)["code"]
    assert set(wire) == {"kid", "ct"} and wire["kid"] == sealer.kid
    received = parse_event(body)
    assert CODE not in repr(received)
    assert open_event(received, keyring).code == CODE


def test_x_06_an_unsealed_secret_is_never_serialized_in_clear():
    event = reset_requested()
    assert CODE not in repr(event) and CODE not in str(event)
    with pytest.raises(Exception, match="must be sealed"):
        event.to_bytes()
    with pytest.raises(Exception, match="must be sealed"):
        event.model_dump_json()


def test_x_06_a_code_in_clear_from_the_wire_is_refused(pair):
    _, sealer = pair
    data = json.loads(reset_requested().to_bytes(sealer))
    data["code"] = CODE
    with pytest.raises(ValueError) as refused:
        parse_event(json.dumps(data))
    assert CODE not in safe_error(refused.value)  # pydantic quotes the input; dead letters must not


def test_x_06_wrong_key_is_refused(pair):
    _, sealer = pair
    received = parse_event(reset_requested().to_bytes(sealer))
    other = Keyring([generate_key_pair()[0]])
    with pytest.raises(SealingError, match="no private key"):
        open_event(received, other)
    # the same key id with another private key (a forged kid) does not open either
    other.keys[sealer.kid] = next(iter(other.keys.values()))
    with pytest.raises(SealingError, match="does not open"):
        open_event(received, other)


def test_x_06_tampered_ciphertext_is_refused(pair):
    keyring, sealer = pair
    data = json.loads(reset_requested().to_bytes(sealer))
    ct = bytearray(data["code"]["ct"].encode())
    ct[-3] = ord("A") if ct[-3] != ord("A") else ord("B")
    data["code"]["ct"] = ct.decode()
    with pytest.raises(SealingError, match="does not open"):
        open_event(parse_event(json.dumps(data)), keyring)


def test_x_06_a_sealed_code_moved_into_another_event_does_not_open(pair):
    """The ciphertext is bound to its event: copied into a forged event
    (another address, same account) it does not open."""
    keyring, sealer = pair
    genuine = json.loads(reset_requested().to_bytes(sealer))
    forged = json.loads(reset_requested(code="00000000", account_id=uuid.UUID(genuine["account_id"]),
                                        email="mallory@example.net").to_bytes(sealer))
    forged["code"] = genuine["code"]
    with pytest.raises(SealingError):
        open_event(parse_event(json.dumps(forged)), keyring)


def test_x_06_rotation_old_key_id_still_opens():
    old_private, old_public = generate_key_pair()
    new_private, new_public = generate_key_pair()
    before = parse_event(reset_requested().to_bytes(Sealer(old_public)))
    after = parse_event(reset_requested(code="55512345").to_bytes(Sealer(new_public)))
    keyring = Keyring.from_setting(f"{new_private}, {old_private}")
    assert before.code.kid != after.code.kid
    assert open_event(before, keyring).code == CODE and open_event(after, keyring).code == "55512345"


def test_x_06_an_erased_value_parses_but_does_not_open(pair):
    keyring, sealer = pair
    data = json.loads(reset_requested().to_bytes(sealer))
    data["code"]["ct"] = ""
    with pytest.raises(SealingError, match="erased"):
        open_event(parse_event(json.dumps(data)), keyring)


def test_x_06_producers_of_secrets_refuse_to_start_without_a_key():
    for producer in ("identity", "organizations"):
        with pytest.raises(SealingNotConfigured, match=f"{producer.upper()}_NOTIFICATIONS_SEAL_KEY"):
            producer_sealer(producer, "")
    assert producer_sealer("billing", "") is None and producer_sealer("domains", None) is None
    with pytest.raises(SealingNotConfigured):
        producer_sealer("identity", "not-a-key")
    with pytest.raises(SealingNotConfigured, match="NOTIFICATIONS_SEAL_PRIVATE_KEYS"):
        Keyring.from_setting("")


def test_x_06_dead_letter_error_text_carries_no_value():
    """Dead-letter headers: pydantic errors without their input, other
    exceptions by type and place only (a DB error quotes its parameters)."""
    class Leaky(Exception):
        pass

    try:
        raise Leaky(f"INSERT ... parameters: ('Your code is {CODE}',)")
    except Leaky as exc:
        assert safe_error(exc) == "Leaky"
        assert CODE not in safe_trace(exc) and "test_sealing.py" in safe_trace(exc)
    with pytest.raises(ValueError) as bad:
        ev.SmsCodeRequested.model_validate({"code": 12345678}, context={"from_wire": True})
    assert "12345678" not in safe_error(bad.value)
    assert safe_error(SealingError("no private key with id abc")) == "no private key with id abc"


def test_x_06_sealed_secret_equality_and_hash():
    a, b = SealedSecret("k", "c"), SealedSecret("k", "c")
    assert a == b and hash(a) == hash(b) and a != SealedSecret(clear="c")
    assert SimpleNamespace(code=a).code.sealed
