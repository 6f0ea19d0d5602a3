"""X-03: codes typed in Unicode compatibility forms (full-width `１２３４５６`,
as some phone keyboards give) work like their ASCII digits on every path, and
digits of other scripts are refused with 422, never a 500
(`hmac.compare_digest` refuses non-ASCII text). One shared helper does it:
manager_shared.typed.TypedCode on every request field that carries a code."""
from __future__ import annotations

import hashlib

import pyotp
import pytest

from manager_shared.testing.fixtures import recorded
from manager_shared.typed import ascii_typed

SIGNUP = {"email": "lea@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Lea",
          "last_name": "Huber", "language": "de", "time_zone": "Europe/Zurich"}
AGENT = {**SIGNUP, "email": "agent@manager.example", "password": "Helpdesk-Lugano-2026"}
SYNC_KEY = "imap-server-key-0123456789abcdef"
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789abcdefghijklmnopqrstuvwxyz-"}
ARABIC_INDIC = {ord(c): 0x0660 + int(c) for c in "0123456789"}


def wide(text: str) -> str:
    return text.translate(FULL_WIDTH)


@pytest.fixture
async def c(make_client, database_url, frozen):
    async with make_client(database_url, frozen, support_staff_emails=AGENT["email"],
                           sync_client_key_hashes=hashlib.sha256(SYNC_KEY.encode()).hexdigest()) as client:
        yield client


async def _auth(c, who=SIGNUP):
    await c.post("/v1/accounts", json=who)
    r = await c.post("/v1/sessions", json={"email": who["email"], "password": who["password"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _totp(c, auth, frozen):
    enrol = (await c.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})).json()
    app = pyotp.TOTP(enrol["secret"])
    r = await c.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": wide(app.at(frozen.now()))})
    assert r.status_code == 200, r.text
    return app, r.json()["emergency_codes"]


def test_x_03_the_helper_maps_compatibility_forms_and_refuses_other_scripts():
    assert ascii_typed(wide("123456")) == "123456" and ascii_typed(wide("k7qm-4xzp")) == "k7qm-4xzp"
    with pytest.raises(ValueError):
        ascii_typed("123456".translate(ARABIC_INDIC))


async def test_x_03_totp_enrolment_and_second_step_take_full_width_digits(c, frozen):
    auth = await _auth(c)
    app, emergency = await _totp(c, auth, frozen)  # was 500
    frozen.advance(seconds=30)
    token = (await c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})).json()
    r = await c.post("/v1/sessions/mfa", json={"mfa_token": token["mfa_token"], "code": wide(app.at(frozen.now()))})
    assert r.status_code == 200, r.text
    token = (await c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})).json()
    r = await c.post("/v1/sessions/mfa", json={"mfa_token": token["mfa_token"], "emergency_code": wide(emergency[0])})
    assert r.status_code == 200, r.text
    r = await c.post("/v1/sessions/mfa", json={"mfa_token": token["mfa_token"],
                                               "code": "123456".translate(ARABIC_INDIC)})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_x_03_sms_enrolment_code_in_full_width(c):
    auth = await _auth(c)
    r = await c.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+41791234567"})
    assert r.status_code == 201, r.text
    code = (await recorded(c, "SmsCodeRequested"))[-1].code
    r2 = await c.post(f"/v1/me/2fa/sms/{r.json()['id']}/confirm", headers=auth, json={"code": wide(code)})
    assert r2.status_code == 200, r2.text


async def test_x_03_password_reset_code_in_full_width(c):
    await _auth(c)
    assert (await c.post("/v1/password-reset", json={"email": SIGNUP["email"]})).status_code == 202
    code = (await recorded(c, "PasswordResetRequested"))[-1].code
    r = await c.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": wide(code),
                                                         "new_password": "Gent-Belfort-Waffle-Spring-2"})
    assert r.status_code == 204, r.text
    r = await c.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": code.translate(ARABIC_INDIC),
                                                         "new_password": "Gent-Belfort-Waffle-Spring-2"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


async def test_x_03_email_change_code_in_full_width(c):
    auth = await _auth(c)
    r = await c.post("/v1/me/email", headers=auth, json={"current_password": SIGNUP["password"],
                                                         "new_email": "lea.new@example.ch",
                                                         "new_email_repeat": "lea.new@example.ch"})
    assert r.status_code == 202, r.text
    code = (await recorded(c, "LoginEmailChangeRequested"))[-1].code
    r = await c.post("/v1/me/email/confirm", headers=auth, json={"code": wide(code)})
    assert r.status_code == 200, r.text


async def test_x_03_support_code_in_full_width(c):
    user, agent = await _auth(c), await _auth(c, AGENT)
    code = (await c.post("/v1/me/support-code", headers=user)).json()["code"]
    r = await c.post("/v1/support/verify-code", headers=agent, json={"email": SIGNUP["email"], "code": wide(code)})
    assert r.status_code == 200, r.text


async def test_x_03_application_password_in_full_width(c, frozen):
    auth = await _auth(c)
    await _totp(c, auth, frozen)
    password = (await c.post("/v1/me/app-passwords", headers=auth, json={"name": "Mail"})).json()["password"]
    r = await c.post("/v1/sync/check", headers={"X-Sync-Client-Key": SYNC_KEY},
                     json={"login": SIGNUP["email"], "password": wide(password)})
    assert r.status_code == 200, r.text
    r = await c.post("/v1/sync/check", headers={"X-Sync-Client-Key": SYNC_KEY},
                     json={"login": SIGNUP["email"], "password": "١٢٣٤٥-" * 4})
    assert r.status_code == 422, r.text
