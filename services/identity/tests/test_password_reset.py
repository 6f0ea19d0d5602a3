"""IDN-13 password reset by recovery e-mail or recovery phone code: no
enumeration, rate-limited, codes single use with few tries, every session
ends, PasswordChanged(reason="reset"); a reset never bypasses 2FA (ASVS 6.4.3)."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import sqlalchemy as sa

from manager_shared.testing.fixtures import recorded

SIGNUP = {"email": "nora@example.be", "password": "Atomium-Frites-Brussel-8", "first_name": "Nora",
          "last_name": "Peeters", "language": "fr", "time_zone": "Europe/Brussels"}
NEW_PASSWORD = "Gent-Belfort-Waffle-Spring-2"



async def _sign_in(client, password=SIGNUP["password"]):
    return await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": password})


async def _account(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens = (await _sign_in(client)).json()
    return tokens, {"Authorization": f"Bearer {tokens['access_token']}"}


async def _reset_code(client, channel="email", email=SIGNUP["email"]):
    """The code sent for this request (None if none was)."""
    before = len(await recorded(client))
    r = await client.post("/v1/password-reset", json={"email": email, "channel": channel})
    assert r.status_code == 202, r.text
    sent = [e for e in (await recorded(client))[before:] if e.type in ("PasswordResetRequested", "SmsCodeRequested")]
    return sent[-1] if sent else None


def _wrong(code):
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


async def test_idn_13_request_answers_the_same_whether_or_not_the_account_exists(client):
    await _account(client)
    known = await client.post("/v1/password-reset", json={"email": SIGNUP["email"].upper()})
    unknown = await client.post("/v1/password-reset", json={"email": "nobody@example.be"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    assert known.headers.keys() == unknown.headers.keys()
    sent = await recorded(client, "PasswordResetRequested")
    assert [(e.email, len(e.code)) for e in sent] == [(SIGNUP["email"], 8)]  # the login: no recovery e-mail set
    assert timedelta(minutes=9) < sent[0].expires_at - sent[0].occurred_at <= timedelta(minutes=10)
    r = await client.post("/v1/password-reset", json={"email": "not an address"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_idn_13_code_goes_to_the_recovery_email_when_there_is_one(client):
    _, auth = await _account(client)
    r = await client.put("/v1/me/recovery-email", headers=auth,
                         json={"password": SIGNUP["password"], "recovery_email": "nora.private@example.org"})
    assert r.status_code == 200, r.text
    sent = await _reset_code(client)
    assert sent.email == "nora.private@example.org"


async def test_idn_13_code_by_sms_to_the_recovery_phone(client):
    _, auth = await _account(client)
    r = await client.put("/v1/me/recovery-phone", headers=auth,
                         json={"password": SIGNUP["password"], "phone": "+32 470 12 34 56"})
    assert r.status_code == 200
    sent = await _reset_code(client, "sms")
    assert (sent.type, sent.phone, sent.purpose, len(sent.code)) == ("SmsCodeRequested", "+32470123456",
                                                                      "password_reset", 8)
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text


async def test_idn_13_sms_channel_without_an_sms_phone_falls_back_to_email(client, frozen):
    _, auth = await _account(client)
    sent = await _reset_code(client, "sms")  # no recovery phone at all
    assert sent.type == "PasswordResetRequested"
    await client.put("/v1/me/recovery-phone", headers=auth,
                     json={"password": SIGNUP["password"], "phone": "+39 312 345 6789"})  # Italy: no SMS codes
    frozen.advance(seconds=61)
    sent = await _reset_code(client, "sms")
    assert sent.type == "PasswordResetRequested" and await recorded(client, "SmsCodeRequested") == []


async def test_idn_13_confirm_sets_the_password_ends_every_session_and_tells_the_owner(client):
    tokens, _ = await _account(client)
    sent = await _reset_code(client)
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert "access_token" not in r.text  # a reset signs nobody in
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_refresh_token")
    assert (await _sign_in(client)).status_code == 401
    assert (await _sign_in(client, NEW_PASSWORD)).status_code == 200
    [changed] = await recorded(client, "PasswordChanged")
    assert changed.reason == "reset"
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": "Another-Long-Passphrase-9"})
    assert (r.status_code, r.json()["code"]) == (422, "code_used")  # told only to who holds the code


async def test_idn_13_wrong_code_and_unknown_email_get_the_same_answer_and_tries_are_limited(client, frozen):
    await _account(client)
    sent = await _reset_code(client)
    body = {"code": _wrong(sent.code), "new_password": NEW_PASSWORD}
    unknown = await client.post("/v1/password-reset/confirm", json={**body, "email": "nobody@example.be"})
    wrong = await client.post("/v1/password-reset/confirm", json={**body, "email": SIGNUP["email"]})
    assert unknown.status_code == wrong.status_code == 422 and unknown.json() == wrong.json()
    assert wrong.json()["code"] == "invalid_code"
    for _ in range(4):  # the throttle slows the tries down: wait as a person would
        frozen.advance(seconds=20)
        await client.post("/v1/password-reset/confirm", json={**body, "email": SIGNUP["email"]})
    frozen.advance(seconds=60)
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert (r.status_code, r.json()["code"]) == (422, "code_attempts_exceeded")
    assert (await _sign_in(client, NEW_PASSWORD)).status_code == 401


async def test_idn_13_guessing_codes_is_throttled(client):
    await _account(client)
    await _reset_code(client)
    statuses = [(await client.post("/v1/password-reset/confirm", json={
        "email": SIGNUP["email"], "code": f"{n:08d}", "new_password": NEW_PASSWORD})).status_code for n in range(5)]
    assert statuses[:3] == [422, 422, 422] and statuses[-1] == 429


async def test_idn_13_expired_code_is_refused(client, frozen):
    await _account(client)
    sent = await _reset_code(client)
    frozen.advance(minutes=10)
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert (r.status_code, r.json()["code"]) == (422, "code_expired")


async def test_idn_13_new_password_follows_the_sign_up_policy_and_the_code_stays_valid(client):
    await _account(client)
    sent = await _reset_code(client)
    for weak, reason in (("password123", "too_common"), ("short", "too_short"), ("nora@example.be", "contains_personal_data")):
        r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                                  "new_password": weak})
        assert (r.status_code, r.json()["code"], r.json()["reason"]) == (422, "weak_password", reason)
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 204


async def test_idn_13_requests_are_rate_limited_the_same_for_any_address(client, frozen):
    await _account(client)
    for email in (SIGNUP["email"], "nobody@example.be"):
        statuses = []
        for _ in range(6):
            frozen.advance(seconds=61)
            statuses.append((await client.post("/v1/password-reset", json={"email": email})).status_code)
        assert statuses == [202] * 5 + [429]
    assert len(await recorded(client, "PasswordResetRequested")) == 5
    frozen.advance(hours=1)
    assert (await client.post("/v1/password-reset", json={"email": SIGNUP["email"]})).status_code == 202


async def test_idn_13_a_new_code_replaces_the_previous_one(client, frozen):
    await _account(client)
    first = await _reset_code(client)
    frozen.advance(seconds=61)
    second = await _reset_code(client)
    assert first.code != second.code or first.event_id != second.event_id
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": first.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 422
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": second.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 204


# -- a reset never bypasses 2FA (ASVS 5.0 6.4.3) ---------------------------------------------

async def _with_totp(client, auth, frozen):
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={})).json()
    app = pyotp.TOTP(enrol["secret"])
    r = await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": app.at(frozen.now())})
    assert r.status_code == 200
    frozen.advance(seconds=30)  # the next time step: the confirmation's code is spent
    return app, r.json()["emergency_codes"]


async def test_idn_13_reset_with_2fa_needs_the_second_factor_and_does_not_sign_in(client, frozen):
    _, auth = await _account(client)
    app, _ = await _with_totp(client, auth, frozen)
    sent = await _reset_code(client)
    body = {"email": SIGNUP["email"], "code": sent.code, "new_password": NEW_PASSWORD}
    r = await client.post("/v1/password-reset/confirm", json=body)
    assert (r.status_code, r.json()["code"], r.json()["methods"]) == (403, "second_factor_required",
                                                                      ["totp", "emergency_code"])
    wrong = _wrong(app.at(frozen.now()))
    r = await client.post("/v1/password-reset/confirm", json={**body, "second_factor": {"method": "totp",
                                                                                        "code": wrong}})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    assert (await _sign_in(client, NEW_PASSWORD)).status_code == 401  # nothing changed yet
    r = await client.post("/v1/password-reset/confirm", json={**body, "second_factor": {
        "method": "totp", "code": app.at(frozen.now())}})
    assert r.status_code == 204, r.text
    # the next sign-in still asks for the second factor
    challenge = (await _sign_in(client, NEW_PASSWORD)).json()
    assert challenge["mfa_required"] is True and "access_token" not in challenge


async def test_idn_13_reset_with_2fa_accepts_an_emergency_code(client, frozen):
    _, auth = await _account(client)
    _, emergency = await _with_totp(client, auth, frozen)
    sent = await _reset_code(client)
    r = await client.post("/v1/password-reset/confirm", json={
        "email": SIGNUP["email"], "code": sent.code, "new_password": NEW_PASSWORD,
        "second_factor": {"method": "emergency_code", "emergency_code": emergency[0]}})
    assert r.status_code == 204, r.text
    assert [e.remaining for e in await recorded(client, "EmergencyCodeUsed")] == [9]


async def test_idn_13_wrong_second_factors_use_up_the_reset_code(client, frozen):
    _, auth = await _account(client)
    app, _ = await _with_totp(client, auth, frozen)
    sent = await _reset_code(client)
    body = {"email": SIGNUP["email"], "code": sent.code, "new_password": NEW_PASSWORD}
    for _ in range(5):
        frozen.advance(seconds=60)  # past the throttle's short waits
        await client.post("/v1/password-reset/confirm", json={**body, "second_factor": {
            "method": "totp", "code": _wrong(app.at(frozen.now()))}})
    frozen.advance(seconds=60)
    r = await client.post("/v1/password-reset/confirm", json={**body, "second_factor": {
        "method": "totp", "code": app.at(frozen.now())}})
    assert (r.status_code, r.json()["code"]) == (422, "code_attempts_exceeded")


async def test_idn_13_reset_with_sms_second_factor(client, frozen):
    _, auth = await _account(client)
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+49 1512 3456789"})
    enrol_code = (await recorded(client, "SmsCodeRequested"))[-1].code
    assert (await client.post(f"/v1/me/2fa/sms/{r.json()['id']}/confirm", headers=auth,
                              json={"code": enrol_code})).status_code == 200
    sent = await _reset_code(client)  # by e-mail
    frozen.advance(seconds=61)
    r = await client.post("/v1/password-reset/sms-code", json={"email": SIGNUP["email"], "code": sent.code})
    assert r.status_code == 200, r.text
    sms = r.json()
    assert sms["sent_to"] == "+49 ••• •• 89"
    second = (await recorded(client, "SmsCodeRequested"))[-1]
    r = await client.post("/v1/password-reset/confirm", json={
        "email": SIGNUP["email"], "code": sent.code, "new_password": NEW_PASSWORD,
        "second_factor": {"method": "sms", "challenge_id": sms["challenge_id"], "code": second.code}})
    assert r.status_code == 204, r.text
    r = await client.post("/v1/password-reset/sms-code", json={"email": SIGNUP["email"], "code": _wrong(sent.code)})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_code")


async def test_idn_13_the_phone_that_got_the_reset_code_is_not_a_second_factor(client, frozen):
    _, auth = await _account(client)
    await client.put("/v1/me/recovery-phone", headers=auth,
                     json={"password": SIGNUP["password"], "phone": "+41 79 123 45 67"})
    r = await client.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+41 79 123 45 67"})
    code = (await recorded(client, "SmsCodeRequested"))[-1].code
    await client.post(f"/v1/me/2fa/sms/{r.json()['id']}/confirm", headers=auth, json={"code": code})
    frozen.advance(seconds=61)
    sent = await _reset_code(client, "sms")
    assert sent.purpose == "password_reset"
    frozen.advance(seconds=61)
    r = await client.post("/v1/password-reset/sms-code", json={"email": SIGNUP["email"], "code": sent.code})
    assert (r.status_code, r.json()["code"]) == (404, "method_not_found")


async def test_idn_13_idn_18_a_blocked_account_gets_no_code(client):
    await _account(client)
    async with client._transport.app.state.runtime.db.transaction() as s:
        await s.execute(sa.text("UPDATE account SET status = 'blocked'"))
    r = await client.post("/v1/password-reset", json={"email": SIGNUP["email"]})
    assert r.status_code == 202 and await recorded(client, "PasswordResetRequested") == []
