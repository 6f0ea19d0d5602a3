"""IDN-15 application passwords; IDN-14 renaming/removing any method and the
single-use second-step token; IDN-16/17 support's 2FA reset after the code."""
from __future__ import annotations

import hashlib

import httpx
import pyotp
import pytest

from identity.app_passwords import new_app_password, normalize_app_password
from identity.config import Settings
from identity.main import create_app
from manager_shared.testing.fixtures import recorded

SIGNUP = {"email": "nina@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Nina",
          "last_name": "Rossi", "language": "it", "time_zone": "Europe/Zurich"}
AGENT = {**SIGNUP, "email": "agent@manager.example", "password": "Helpdesk-Lugano-2026"}
SYNC_KEY = "imap-server-key-0123456789abcdef"


@pytest.fixture
async def client(tmp_path, service_env):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/id.db", consumers_enabled=False,
                              support_staff_emails=AGENT["email"],
                              sync_client_key_hashes=hashlib.sha256(SYNC_KEY.encode()).hexdigest(), **service_env))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as c:
            yield c


async def _auth(client, who=SIGNUP):
    r = await client.post("/v1/sessions", json={"email": who["email"], "password": who["password"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _with_totp(client) -> tuple[dict, pyotp.TOTP, str]:
    await client.post("/v1/accounts", json=SIGNUP)
    auth = await _auth(client)
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})).json()
    app = pyotp.TOTP(enrol["secret"])
    r = await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": app.now()})
    assert r.status_code == 200
    return auth, app, enrol["id"]



def _sync(client, login, password, key=SYNC_KEY):
    return client.post("/v1/sync/check", json={"login": login, "password": password},
                       headers={"X-Sync-Client-Key": key} if key else {})


def test_idn_15_app_passwords_are_strong_and_typed_loosely():
    pw = new_app_password()
    assert len(pw) == 23 and pw.count("-") == 3
    assert normalize_app_password(pw.upper().replace("-", " ")) == pw.replace("-", "")
    assert len({new_app_password() for _ in range(200)}) == 200


async def test_idn_15_app_password_needs_2fa_then_authenticates_a_sync_client_without_a_session(client):
    await client.post("/v1/accounts", json=SIGNUP)
    auth = await _auth(client)
    r = await client.post("/v1/me/app-passwords", headers=auth, json={"name": "Thunderbird"})
    assert (r.status_code, r.json()["code"]) == (409, "two_factor_required")

    auth, _, _ = await _with_totp_on_existing(client, auth)
    created = await client.post("/v1/me/app-passwords", headers=auth, json={"name": "Thunderbird"})
    assert created.status_code == 201
    password = created.json()["password"]
    listed = (await client.get("/v1/me/app-passwords", headers=auth)).json()
    assert [p["name"] for p in listed] == ["Thunderbird"] and "password" not in listed[0]

    sessions_before = len((await client.get("/v1/sessions", headers=auth)).json())
    r = await _sync(client, SIGNUP["email"].upper(), password.replace("-", " "))
    assert r.status_code == 200 and r.json()["account_id"] and r.json()["amr"] == ["app_password"]
    assert "access_token" not in r.json()
    assert len((await client.get("/v1/sessions", headers=auth)).json()) == sessions_before
    # the app password is not an account password: no Manager sign-in with it
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": password})
    assert r.status_code == 401

    # unknown login and wrong password answer alike
    wrong = await _sync(client, SIGNUP["email"], new_app_password())
    nobody = await _sync(client, "nobody@example.ch", password)
    assert (wrong.status_code, wrong.json()) == (nobody.status_code, nobody.json())
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    # only trusted sync servers may ask
    assert (await _sync(client, SIGNUP["email"], password, key="guess")).json()["code"] == "sync_client_unknown"
    assert (await _sync(client, SIGNUP["email"], password, key=None)).status_code == 403

    r = await client.delete(f"/v1/me/app-passwords/{created.json()['id']}", headers=auth)
    assert r.status_code == 204
    assert (await _sync(client, SIGNUP["email"], password)).status_code == 401
    types = [e.type for e in await recorded(client)]
    assert "AppPasswordCreated" in types and "AppPasswordRevoked" in types


async def _with_totp_on_existing(client, auth):
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})).json()
    app = pyotp.TOTP(enrol["secret"])
    await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": app.now()})
    return auth, app, enrol["id"]


async def test_idn_15_turning_2fa_off_revokes_app_passwords(client):
    auth, _, method_id = await _with_totp(client)
    password = (await client.post("/v1/me/app-passwords", headers=auth, json={"name": "DAVx5"})).json()["password"]
    assert (await _sync(client, SIGNUP["email"], password)).status_code == 200
    assert (await client.delete(f"/v1/me/2fa/{method_id}", headers=auth)).status_code == 204
    assert (await client.get("/v1/me/2fa", headers=auth)).json() == []
    assert (await _sync(client, SIGNUP["email"], password)).status_code == 401
    assert (await client.get("/v1/me/app-passwords", headers=auth)).json() == []


async def test_idn_04_app_password_checks_are_throttled(client):
    auth, _, _ = await _with_totp(client)
    statuses = [(await _sync(client, SIGNUP["email"], new_app_password())).status_code for _ in range(6)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses


async def test_idn_14_rename_any_method_and_other_accounts_cannot(client):
    auth, _, method_id = await _with_totp(client)
    r = await client.patch(f"/v1/me/2fa/{method_id}", headers=auth, json={"name": "Work phone"})
    assert (r.status_code, r.json()["name"], r.json()["kind"]) == (200, "Work phone", "totp")
    assert [m["name"] for m in (await client.get("/v1/me/2fa", headers=auth)).json()] == ["Work phone"]
    r = await client.patch(f"/v1/me/2fa/{method_id}", headers=auth, json={"name": ""})
    assert r.status_code == 422
    await client.post("/v1/accounts", json=AGENT)
    other = await _auth(client, AGENT)
    r = await client.patch(f"/v1/me/2fa/{method_id}", headers=other, json={"name": "Mine"})
    assert (r.status_code, r.json()["code"]) == (404, "method_not_found")
    assert (await client.delete(f"/v1/me/2fa/{method_id}", headers=other)).status_code == 404


async def test_idn_14_the_second_step_token_works_once(client):
    auth, app, _ = await _with_totp(client)
    token = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                     "password": SIGNUP["password"]})).json()["mfa_token"]
    client._transport.app.state.identity.clock = _Later(seconds=31)  # a fresh code step
    code = app.at(_Later(seconds=31).now())
    assert (await client.post("/v1/sessions/mfa", json={"mfa_token": token, "code": code})).status_code == 200
    client._transport.app.state.identity.clock = _Later(seconds=61)
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "code": app.at(_Later(seconds=61).now())})
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")


async def test_idn_16_17_support_resets_2fa_only_after_the_code_was_verified(client):
    auth, _, _ = await _with_totp(client)
    await client.post("/v1/accounts", json=AGENT)
    agent = await _auth(client, AGENT)
    account_id = (await client.get("/v1/me", headers=auth)).json()["id"]
    reason = {"reason": "caller lost phone, ticket #2231"}
    r = await client.post(f"/v1/support/accounts/{account_id}/reset-2fa", headers=agent, json=reason)
    assert (r.status_code, r.json()["code"]) == (409, "support_verification_required")
    r = await client.post(f"/v1/support/accounts/{account_id}/reset-2fa", headers=auth, json=reason)
    assert (r.status_code, r.json()["code"]) == (403, "support_only")

    code = (await client.post("/v1/me/support-code", headers=auth)).json()["code"]
    assert (await client.post("/v1/support/verify-code", headers=agent,
                              json={"email": SIGNUP["email"], "code": code})).status_code == 200
    r = await client.post(f"/v1/support/accounts/{account_id}/reset-2fa", headers=agent, json=reason)
    assert (r.status_code, r.json()["methods_removed"]) == (200, 1)
    # the proof worked once
    r = await client.post(f"/v1/support/accounts/{account_id}/reset-2fa", headers=agent, json=reason)
    assert r.status_code == 409
    # the owner signs in with the password alone now, and was told
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    assert "access_token" in r.json()
    disabled = [e for e in await recorded(client) if e.type == "TwoFactorDisabled"]
    assert disabled and disabled[-1].by_support and disabled[-1].methods == 0


class _Later:
    def __init__(self, **delta):
        from datetime import datetime, timedelta, timezone
        self.delta, self._dt, self._tz = timedelta(**delta), datetime, timezone

    def now(self):
        return self._dt.now(self._tz.utc) + self.delta
