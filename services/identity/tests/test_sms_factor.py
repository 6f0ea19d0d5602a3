"""IDN-14c SMS codes as a second factor: CH/FR/BE/DE mobiles only, codes
stored as a keyed hash, single use, short-lived, bound to the mfa token,
a few tries each, sending budgeted; never logged."""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pyotp
import pytest
import sqlalchemy as sa

from identity.codes import Budget, OneTimeCodes, Outcome, derive_key
from identity.models import Account, OneTimeChallenge
from identity.tokens import generate_private_pem
from manager_shared.testing.fixtures import recorded

SIGNUP = {"email": "lea@example.ch", "password": "Matterhorn-Fondue-Sessel-4", "first_name": "Lea",
          "last_name": "Brunner", "language": "de", "time_zone": "Europe/Zurich"}
MOBILE = "+41 79 123 45 67"


# -- the code store, without HTTP ----------------------------------------------------------

@pytest.fixture
async def account_id(db):
    async with db.transaction() as s:
        now = datetime.now(timezone.utc)
        account = Account(email="x@example.ch", email_normalized="x@example.ch", password_hash="-", first_name="X",
                          last_name="Y", language="en", time_zone="UTC", created_at=now, updated_at=now)
        s.add(account)
    return account.id


def _codes(clock, key=b"k" * 32):
    codes = OneTimeCodes(lambda: clock)
    codes.use_key(key)
    return codes


async def test_idn_14c_code_is_stored_as_keyed_hash_only(db, clock, account_id):
    codes = _codes(clock)
    async with db.transaction() as s:
        row, code = await codes.issue(s, account_id=account_id, purpose="sms_sign_in", ttl_seconds=300, digits=6,
                                      destination="+41791234567")
    assert len(code) == 6 and code.isdigit()
    async with db.transaction() as s:
        stored = (await s.execute(sa.select(OneTimeChallenge))).scalar_one()
    # the plain SHA-256 of every 6-digit code would give the code back: it is not what is stored
    assert code not in stored.payload and stored.secret_hash != hashlib.sha256(code.encode()).hexdigest()
    assert stored.destination != "+41791234567"
    assert codes.matches(stored, code) and codes.matches(stored, f"{code[:3]} {code[3:]}")
    assert not _codes(clock, key=b"another key" * 3).matches(stored, code)  # useless without the key


def test_idn_14c_code_key_is_derived_from_the_signing_key_or_the_setting():
    pem = generate_private_pem()
    assert derive_key(None, pem) == derive_key(None, pem) != derive_key(None, generate_private_pem())
    assert derive_key("a configured secret", pem) != derive_key(None, pem)
    assert len(derive_key(None, pem)) == 32


async def test_idn_14c_code_works_once_expires_and_allows_five_wrong_tries(db, clock, account_id):
    codes = _codes(clock)
    async with db.transaction() as s:
        row, code = await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6,
                                      destination="d")
    wrong = "000000" if code != "000000" else "111111"
    assert [codes.check(row, wrong) for _ in range(4)] == [Outcome.INVALID] * 4
    assert codes.check(row, wrong) is Outcome.EXHAUSTED
    assert codes.check(row, code) is Outcome.EXHAUSTED  # the right code no longer helps

    async with db.transaction() as s:
        row, code = await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6,
                                      destination="d")
    assert codes.check(row, "12a456") is Outcome.INVALID
    assert codes.check(row, code) is Outcome.OK
    assert codes.check(row, code) is Outcome.USED

    async with db.transaction() as s:
        row, code = await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6,
                                      destination="d")
    clock.advance(seconds=300)
    assert codes.check(row, code) is Outcome.EXPIRED
    # for anonymous callers the reason is told only to the holder of the code
    assert codes.check(row, wrong, discreet=True) is Outcome.INVALID
    assert codes.check(row, code, discreet=True) is Outcome.EXPIRED


async def test_idn_14c_a_new_code_replaces_the_pending_one(db, clock, account_id):
    codes = _codes(clock)
    async with db.transaction() as s:
        first, first_code = await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6,
                                              destination="d", bound_to="jti-1")
        await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6, destination="d",
                          bound_to="jti-1")
    async with db.transaction() as s:
        first = await s.get(OneTimeChallenge, first.id)
        assert codes.check(first, first_code) is Outcome.USED


async def test_idn_14c_sending_budget_per_account_and_number(db, clock, account_id):
    codes, budget = _codes(clock), Budget(("a", "b"), cooldown_seconds=60, per_hour=5)

    async def send(purpose="a", account=account_id, number="+41791234567"):
        async with db.transaction() as s:
            wait = await codes.wait_before_sending(s, account_id=account, destination=number, purpose=purpose,
                                                   budget=budget)
            if not wait:
                await codes.issue(s, account_id=account, purpose=purpose, ttl_seconds=300, digits=6,
                                  destination=number)
            return wait

    assert await send() == 0
    assert await send() == 60  # one a minute
    clock.advance(seconds=30)
    assert await send() == 30 and await send("b") == 0  # another purpose has its own minute
    for _ in range(3):
        clock.advance(seconds=61)
        assert await send() == 0
    clock.advance(seconds=61)
    wait = await send()  # five in the last hour: the hourly cap
    assert 3000 < wait <= 3600 - 30
    # the same number for another account is capped too (SMS pumping)
    async with db.transaction() as s:
        now = datetime.now(timezone.utc)
        other = Account(email="o@example.ch", email_normalized="o@example.ch", password_hash="-", first_name="O",
                        last_name="P", language="en", time_zone="UTC", created_at=now, updated_at=now)
        s.add(other)
    assert await send(account=other.id) > 0
    assert await send(account=other.id, number="+41797654321") == 0
    clock.advance(hours=1)
    assert await send() == 0


# -- over HTTP ------------------------------------------------------------------------------

@pytest.fixture
async def client(make_client, tmp_path, frozen):
    async with make_client(f"sqlite+aiosqlite:///{tmp_path}/id.db", frozen) as c:
        yield c



async def _signed_in(client):
    await client.post("/v1/accounts", json=SIGNUP)
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _enrol(client, auth, phone=MOBILE):
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": phone})
    assert r.status_code == 201, r.text
    code = (await recorded(client, "SmsCodeRequested"))[-1].code
    r2 = await client.post(f"/v1/me/2fa/sms/{r.json()['id']}/confirm", headers=auth, json={"code": code})
    assert r2.status_code == 200, r2.text
    return r.json(), r2.json()["emergency_codes"]


async def test_idn_14c_enrol_a_swiss_mobile_with_the_code_sent_to_it(client):
    auth = await _signed_in(client)
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": MOBILE, "name": "Work phone"})
    assert r.status_code == 201, r.text
    enrol = r.json()
    assert enrol["sent_to"] == "+41 ••• •• 67" and "code" not in enrol
    sent = (await recorded(client, "SmsCodeRequested"))[-1]
    assert (sent.phone, sent.purpose, len(sent.code)) == ("+41791234567", "enrolment", 6)
    assert await client.get("/v1/me/2fa", headers=auth) and (await client.get("/v1/me/2fa", headers=auth)).json() == []
    wrong = "000000" if sent.code != "000000" else "111111"
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/confirm", headers=auth, json={"code": wrong})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_code")
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/confirm", headers=auth, json={"code": sent.code})
    assert r.status_code == 200 and len(r.json()["emergency_codes"]) == 10
    methods = (await client.get("/v1/me/2fa", headers=auth)).json()
    assert [(m["kind"], m["name"]) for m in methods] == [("sms", "Work phone")]
    assert [e.methods for e in await recorded(client, "TwoFactorEnabled")] == [1]
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/confirm", headers=auth, json={"code": sent.code})
    assert (r.status_code, r.json()["code"]) == (404, "method_not_found")  # done already
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+41791234567"})
    assert (r.status_code, r.json()["code"]) == (409, "sms_method_exists")


@pytest.mark.parametrize(("phone", "code"), [("+39 312 345 6789", "sms_country_not_supported"),
                                             ("+1 415 555 2671", "sms_country_not_supported"),
                                             ("+41 44 123 45 67", "sms_country_not_supported"),  # landline
                                             ("079 123 45 67", "invalid_phone"), ("call me", "invalid_phone")])
async def test_idn_14c_only_ch_fr_be_de_mobiles_can_be_enrolled(client, phone, code):
    auth = await _signed_in(client)
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": phone})
    assert (r.status_code, r.json()["code"]) == (422, code)
    assert await recorded(client, "SmsCodeRequested") == []


async def test_idn_14c_idn_19_enrolment_needs_a_recent_sign_in(client, frozen):
    auth = await _signed_in(client)
    frozen.advance(minutes=5, seconds=1)
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": MOBILE})
    assert (r.status_code, r.json()["code"]) == (403, "reauthentication_required")


async def test_idn_14c_sign_in_with_an_sms_code_bound_to_the_mfa_token(client, frozen):
    auth = await _signed_in(client)
    enrol, _ = await _enrol(client, auth, "+33 6 12 34 56 78")
    frozen.advance(seconds=61)
    challenge = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                         "password": SIGNUP["password"]})).json()
    assert challenge["mfa_required"] and "sms" in challenge["methods"]
    r = await client.post("/v1/sessions/mfa/sms", json={"mfa_token": challenge["mfa_token"]})
    assert r.status_code == 200, r.text
    sms = r.json()
    assert sms["sent_to"] == "+33 ••• •• 78"
    expires = datetime.fromisoformat(sms["expires_at"])
    assert timedelta(0) < expires - frozen.now() <= timedelta(minutes=10)
    sent = (await recorded(client, "SmsCodeRequested"))[-1]
    assert sent.purpose == "sign_in" and sent.phone == "+33612345678"

    # another sign-in's token cannot use this code
    other = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                     "password": SIGNUP["password"]})).json()
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": other["mfa_token"], "method": "sms",
                                                    "challenge_id": sms["challenge_id"], "code": sent.code})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")

    step = {"mfa_token": challenge["mfa_token"], "method": "sms", "challenge_id": sms["challenge_id"]}
    r = await client.post("/v1/sessions/mfa", json={**step, "code": sent.code})
    assert r.status_code == 200, r.text
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "sms"]
    r = await client.post("/v1/sessions/mfa", json={**step, "code": sent.code})
    assert r.status_code == 401  # the code and the mfa token each work once


async def test_idn_14c_expired_or_wrong_sms_code_is_refused(client, frozen):
    auth = await _signed_in(client)
    await _enrol(client, auth)
    frozen.advance(seconds=61)
    token = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                     "password": SIGNUP["password"]})).json()["mfa_token"]
    sms = (await client.post("/v1/sessions/mfa/sms", json={"mfa_token": token})).json()
    code = (await recorded(client, "SmsCodeRequested"))[-1].code
    step = {"mfa_token": token, "method": "sms", "challenge_id": sms["challenge_id"]}
    r = await client.post("/v1/sessions/mfa", json={**step, "code": "12345"})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    r = await client.post("/v1/sessions/mfa", json={**step, "challenge_id": str(uuid.uuid4()), "code": code})
    assert r.status_code == 401
    frozen.advance(seconds=300)  # the code's five minutes (and the token's) are over
    r = await client.post("/v1/sessions/mfa", json={**step, "code": code})
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")


async def test_idn_14c_sms_sending_is_rate_limited(client, frozen):
    auth = await _signed_in(client)
    await _enrol(client, auth)  # the first SMS of the hour

    async def mfa_token():
        return (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                        "password": SIGNUP["password"]})).json()["mfa_token"]

    token = await mfa_token()
    assert (await client.post("/v1/sessions/mfa/sms", json={"mfa_token": token})).status_code == 200
    r = await client.post("/v1/sessions/mfa/sms", json={"mfa_token": token})  # "resend" at once
    assert (r.status_code, r.json()["code"]) == (429, "too_many_codes") and 1 <= int(r.headers["Retry-After"]) <= 60
    statuses = []
    for _ in range(4):
        frozen.advance(seconds=61)
        statuses.append((await client.post("/v1/sessions/mfa/sms", json={"mfa_token": await mfa_token()})))
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]  # 5 an hour, the enrolment's included
    assert int(statuses[-1].headers["Retry-After"]) > 3000
    assert len(await recorded(client, "SmsCodeRequested")) == 5
    frozen.advance(hours=1)
    assert (await client.post("/v1/sessions/mfa/sms", json={"mfa_token": await mfa_token()})).status_code == 200


async def test_idn_14c_no_sms_without_a_valid_mfa_token_or_an_sms_factor(client, frozen):
    auth = await _signed_in(client)
    r = await client.post("/v1/sessions/mfa/sms", json={"mfa_token": "x" * 40})
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={})).json()
    r = await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth,
                          json={"code": pyotp.TOTP(enrol["secret"]).at(frozen.now())})
    assert r.status_code == 200
    token = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                     "password": SIGNUP["password"]})).json()["mfa_token"]
    r = await client.post("/v1/sessions/mfa/sms", json={"mfa_token": token})
    assert (r.status_code, r.json()["code"]) == (404, "method_not_found")


async def test_idn_14c_sms_method_removed_by_its_own_route(client, frozen):
    auth = await _signed_in(client)
    enrol, _ = await _enrol(client, auth)
    assert (await client.delete(f"/v1/me/2fa/{enrol['id']}", headers=auth)).status_code == 204
    assert (await client.get("/v1/me/2fa", headers=auth)).json() == []
    assert [e.methods for e in await recorded(client, "TwoFactorDisabled")] == [0]


async def test_idn_14c_sms_codes_are_never_logged(client, frozen, caplog):
    # Ours at DEBUG, everything at INFO (production's level). At DEBUG, aiosqlite
    # and aiokafka print statement parameters and message values — the outbox
    # payload with the code — so those loggers must never run at DEBUG in production.
    caplog.set_level(logging.INFO)
    for name in ("identity", "manager_shared", "faststream", "uvicorn", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    auth = await _signed_in(client)
    await _enrol(client, auth)
    frozen.advance(seconds=61)
    token = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                     "password": SIGNUP["password"]})).json()["mfa_token"]
    sms = (await client.post("/v1/sessions/mfa/sms", json={"mfa_token": token})).json()
    codes = [e.code for e in await recorded(client, "SmsCodeRequested")]
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "sms",
                                                    "challenge_id": sms["challenge_id"], "code": codes[-1]})
    assert r.status_code == 200
    assert len(codes) == 2 and caplog.records  # something was logged, but no code
    text = "\n".join(f"{rec.getMessage()} {rec.args}" for rec in caplog.records)
    leaks = {rec.name for rec in caplog.records if any(c in f"{rec.getMessage()} {rec.args}" for c in codes)}
    assert not any(code in text for code in codes), leaks
    assert SIGNUP["password"] not in text


async def test_idn_14c_rows_a_day_past_expiry_are_purged_when_a_code_is_issued(db, clock, account_id):
    codes = _codes(clock)
    async with db.transaction() as s:
        await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6, destination="d")
    clock.advance(days=1, minutes=6)
    async with db.transaction() as s:
        await codes.issue(s, account_id=account_id, purpose="p", ttl_seconds=300, digits=6, destination="d")
    async with db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(OneTimeChallenge))).scalar_one() == 1


async def test_idn_14c_enrolment_code_can_be_sent_again_and_the_old_one_stops_working(client, frozen):
    auth = await _signed_in(client)
    enrol = (await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+32 470 12 34 56"})).json()
    first = (await recorded(client, "SmsCodeRequested"))[-1].code
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/resend", headers=auth)
    assert (r.status_code, r.json()["code"]) == (429, "too_many_codes")
    frozen.advance(seconds=61)
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/resend", headers=auth)
    assert r.status_code == 200 and r.json()["sent_to"] == "+32 ••• •• 56"
    second = (await recorded(client, "SmsCodeRequested"))[-1].code
    if first != second:
        r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/confirm", headers=auth, json={"code": first})
        assert (r.status_code, r.json()["code"]) == (422, "invalid_code")  # only the newest code counts
    r = await client.post(f"/v1/me/2fa/sms/{enrol['id']}/confirm", headers=auth, json={"code": second})
    assert r.status_code == 200
