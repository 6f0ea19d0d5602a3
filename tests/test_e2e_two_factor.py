"""End to end, identity's second factors across processes (IDN-14, IDN-15,
NTF-01): enrol TOTP, sign in with it, a replayed code is refused, an
emergency code works once and the owner gets the security mail, and an
application password lets a sync server authenticate the account."""
from __future__ import annotations

import re
import time
import uuid

import httpx
import pyotp
import pytest

from manager_shared.testing.polling import eventually

pytestmark = pytest.mark.e2e

PASSWORD = "Gotthard-Tunnel-Lok-9"


def test_idn_14_15_totp_emergency_code_and_app_password_end_to_end(platform, mail_catcher, sync_client_key):
    email = f"lea.{uuid.uuid4().hex[:6]}@example.ch"
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
    assert identity.post("/v1/accounts", json={"email": email, "password": PASSWORD, "first_name": "Lea",
                                               "last_name": "Frei", "language": "en"}).status_code == 202
    tokens = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    # enrol an authenticator app; the confirmation returns the emergency codes once
    enrol = identity.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"}).json()
    app = pyotp.TOTP(enrol["secret"])
    confirm_code = app.now()
    codes = identity.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth,
                          json={"code": confirm_code}).json()["emergency_codes"]
    assert len(codes) == 10

    # sign-in now needs the second step; the code already used is refused (replay)
    challenge = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    assert challenge["mfa_required"] and "totp" in challenge["methods"]
    r = identity.post("/v1/sessions/mfa", json={"mfa_token": challenge["mfa_token"], "code": confirm_code})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    # the next time step's code (within the ±1 step window) is accepted, once
    fresh = app.at(time.time() + 30)
    r = identity.post("/v1/sessions/mfa", json={"mfa_token": challenge["mfa_token"], "code": fresh})
    assert r.status_code == 200, r.text
    signed_in = {"Authorization": f"Bearer {r.json()['access_token']}"}
    again = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    r = identity.post("/v1/sessions/mfa", json={"mfa_token": again["mfa_token"], "code": fresh})
    assert r.status_code == 401

    # an emergency code replaces the app, once; the owner is told by e-mail
    r = identity.post("/v1/sessions/mfa", json={"mfa_token": again["mfa_token"], "emergency_code": codes[3]})
    assert r.status_code == 200, r.text
    third = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    r = identity.post("/v1/sessions/mfa", json={"mfa_token": third["mfa_token"], "emergency_code": codes[3]})
    assert r.status_code == 401
    mails = eventually(lambda: [m for m in mail_catcher.messages if email in [a.lower() for a in m["to"]]
                           and "An emergency code replaced" in m["text"]])
    assert len(mails) == 1 and "9 unused codes remain" in mails[0]["text"]
    assert not re.search(r"https?://|href=", mails[0]["text"] + mails[0]["html"], re.I)  # IDN-09

    # an application password for a mail client; the sync server checks it
    created = identity.post("/v1/me/app-passwords", headers=signed_in, json={"name": "Thunderbird"})
    assert created.status_code == 201, created.text
    sync = httpx.Client(base_url=platform.url("identity"), timeout=10,
                        headers={"X-Sync-Client-Key": sync_client_key})
    r = sync.post("/v1/sync/check", json={"login": email, "password": created.json()["password"]})
    assert r.status_code == 200 and r.json()["amr"] == ["app_password"] and "access_token" not in r.json()
    r = sync.post("/v1/sync/check", json={"login": email, "password": PASSWORD})  # not the account password
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    r = httpx.post(f"{platform.url('identity')}/v1/sync/check",
                   json={"login": email, "password": created.json()["password"]})
    assert (r.status_code, r.json()["code"]) == (403, "sync_client_unknown")
