"""identity over HTTP (ASGI, real broker for the lifespan, SQLite)."""
from __future__ import annotations

import httpx
import pytest

from identity.config import Settings
from identity.main import create_app
from manager_shared.testing.fixtures import recorded

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
SIGNUP = {"email": "ben@example.fr", "password": "Tour-Eiffel-Baguette-7", "first_name": "Ben",
          "last_name": "Martin", "language": "fr", "time_zone": "Europe/Paris"}


@pytest.fixture
async def client(tmp_path, service_env):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/id.db", trusted_proxies="127.0.0.1/32",
                              **service_env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as c:
            yield c


async def test_idn_01_sign_up_answers_the_same_for_a_taken_address(client):
    first = await client.post("/v1/accounts", json=SIGNUP)
    second = await client.post("/v1/accounts", json={**SIGNUP, "email": "BEN@example.fr"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()


async def test_idn_03_sign_in_me_refresh_sign_out(client):
    await client.post("/v1/accounts", json=SIGNUP)
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]},
                          headers={"User-Agent": FIREFOX, "X-Forwarded-For": "80.128.1.1"})
    assert r.status_code == 200, r.text
    tokens = r.json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = (await client.get("/v1/me", headers=auth)).json()
    assert me["email"] == SIGNUP["email"] and me["language"] == "fr"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["alg"] == "ES256" and "d" not in jwks["keys"][0]  # public part only
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_refresh_token")
    # the replay ended the session: its unexpired access token is refused at once (ASVS 7.4)
    r = await client.delete("/v1/sessions/current", headers=auth)
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")


async def test_x_03_identity_bad_input(client):
    r = await client.post("/v1/sessions", content=b"[", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
    r = await client.post("/v1/accounts", json={**SIGNUP, "language": "pt", "time_zone": "Mars/Olympus"})
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} == {"body.language", "body.time_zone"}
    r = await client.post("/v1/accounts", json={**SIGNUP, "password": "x" * 10_000})
    assert r.status_code == 422 and "xxxxxxxx" not in r.text
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": "nope"})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    assert (await client.get("/v1/me")).json()["code"] == "unauthorized"


async def test_idn_04_too_many_attempts_is_a_429_with_retry_after(client):
    await client.post("/v1/accounts", json=SIGNUP)
    codes = []
    for _ in range(4):
        r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": "not-it-at-all"})
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429]
    assert r.json()["code"] == "too_many_attempts" and int(r.headers["Retry-After"]) >= 1
    r = await client.post("/v1/sessions", json={"email": "nobody@example.fr", "password": "not-it-at-all"})
    assert r.status_code == 401  # another e-mail from the same address is not locked yet


async def test_idn_01_common_password_refused_before_the_address_is_looked_up(client):
    await client.post("/v1/accounts", json=SIGNUP)
    for email in (SIGNUP["email"], "fresh@example.fr"):  # taken or not: the same answer
        r = await client.post("/v1/accounts", json={**SIGNUP, "email": email, "password": "password123"})
        assert (r.status_code, r.json()["code"], r.json()["reason"]) == (422, "weak_password", "too_common")


async def test_idn_11_preferences_change_is_published_whole(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens = (await client.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                       "password": SIGNUP["password"]})).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = await client.get("/v1/me/preferences", headers=auth)
    assert r.json() == {"language": "fr", "time_zone": "Europe/Paris",
                        "alerts": {"LoginFromNewLocation": True, "LoginFailed": True}}
    r = await client.patch("/v1/me/preferences", headers=auth,
                           json={"language": "it", "alerts": {"LoginFailed": False}})
    assert r.status_code == 200 and r.json()["language"] == "it" and r.json()["alerts"]["LoginFailed"] is False
    r = await client.patch("/v1/me/preferences", headers=auth, json={"alerts": {"PasswordChanged": False}})
    assert r.status_code == 422  # mandatory messages cannot be turned off
    r = await client.patch("/v1/me/preferences", headers=auth, json={"time_zone": "Moon/Base"})
    assert r.status_code == 422

    events = await recorded(client)
    changed = [e for e in events if e.type == "AccountPreferencesChanged"]
    assert [(e.language, e.time_zone, e.disabled_alerts, e.account_version) for e in changed] == [
        ("it", "Europe/Paris", ["LoginFailed"], 2)]


async def _signed_in(client, ip="80.128.1.1"):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens = (await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]},
                                headers={"X-Forwarded-For": ip, "User-Agent": FIREFOX})).json()
    return tokens, {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_idn_05_change_password_ends_other_sessions_and_tells_the_owner(client):
    mine, auth = await _signed_in(client)
    other = (await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})).json()
    r = await client.post("/v1/me/password", headers=auth,
                          json={"current_password": "not-the-password", "new_password": "Mont-Blanc-Chamonix-9"})
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    r = await client.post("/v1/me/password", headers=auth,
                          json={"current_password": SIGNUP["password"], "new_password": "password1"})
    assert (r.status_code, r.json()["reason"]) == (422, "too_common")
    r = await client.post("/v1/me/password", headers={**auth, "X-Forwarded-For": "80.128.1.1", "User-Agent": FIREFOX},
                          json={"current_password": SIGNUP["password"], "new_password": "Mont-Blanc-Chamonix-9"})
    assert r.status_code == 204
    # the other session is over; this one goes on
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 401
    assert (await client.post("/v1/sessions/refresh", json={"refresh_token": mine["refresh_token"]})).status_code == 200
    ok = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": "Mont-Blanc-Chamonix-9"})
    assert ok.status_code == 200

    events = await recorded(client)
    assert [(e.country, e.device) for e in events if e.type == "PasswordChanged"] == [("DE", "Firefox on Windows")]


async def test_idn_19_reauthenticate_refreshes_auth_time(client):
    import asyncio

    import jwt

    tokens, auth = await _signed_in(client)
    first = jwt.decode(tokens["access_token"], options={"verify_signature": False})["auth_time"]
    await asyncio.sleep(1.1)  # auth_time has a one-second grain
    r = await client.post("/v1/sessions/current/reauthenticate", headers=auth, json={"password": "wrong!"})
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    r = await client.post("/v1/sessions/current/reauthenticate", headers=auth, json={"password": SIGNUP["password"]})
    assert r.status_code == 200
    again = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert again["auth_time"] > first and again["sid"] == str(tokens["session_id"])


async def test_idn_10_recent_activity_newest_first_and_paged(client):
    tokens, auth = await _signed_in(client)  # sign-in from Germany
    await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": "wrong-one"},
                      headers={"X-Forwarded-For": "195.186.1.1", "User-Agent": FIREFOX})
    await client.patch("/v1/me/preferences", headers=auth, json={"language": "de"})
    first = (await client.get("/v1/me/activity?limit=2", headers=auth)).json()
    assert [i["kind"] for i in first["items"]] == ["preferences_changed", "sign_in_failed"]
    assert first["items"][1]["country"] == "CH" and first["items"][1]["device"] == "Firefox on Windows"
    rest = (await client.get(f"/v1/me/activity?limit=2&before={first['next_before']}", headers=auth)).json()
    assert [(i["kind"], i["country"]) for i in rest["items"]] == [("sign_in", "DE")] and rest["next_before"] is None
    assert (await client.get("/v1/me/activity?limit=1000", headers=auth)).status_code == 422


async def test_idn_12_recovery_phone_needs_password_and_is_stored_e164(client):
    tokens, auth = await _signed_in(client)
    r = await client.put("/v1/me/recovery-phone", headers=auth, json={"password": "nope", "phone": "+41 79 123 45 67"})
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    r = await client.put("/v1/me/recovery-phone", headers=auth,
                         json={"password": SIGNUP["password"], "phone": "079 123 45 67"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_phone")
    r = await client.put("/v1/me/recovery-phone", headers=auth,
                         json={"password": SIGNUP["password"], "phone": "+41 79 123 45 67"})
    assert r.json() == {"recovery_phone": "+41 ••• •• 67"}
    assert (await client.get("/v1/me", headers=auth)).json()["recovery_phone"] == "+41791234567"
    kinds = [i["kind"] for i in (await client.get("/v1/me/activity", headers=auth)).json()["items"]]
    assert kinds[0] == "recovery_phone_changed"


async def test_idn_03_list_and_revoke_own_sessions(client):
    tokens, auth = await _signed_in(client)
    other = (await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})).json()
    listed = (await client.get("/v1/sessions", headers=auth)).json()
    assert len(listed) == 2 and [s["current"] for s in listed if s["id"] == tokens["session_id"]] == [True]
    assert (await client.delete(f"/v1/sessions/{other['session_id']}", headers=auth)).status_code == 204
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 401
    assert [s["id"] for s in (await client.get("/v1/sessions", headers=auth)).json()] == [tokens["session_id"]]
    r = await client.delete("/v1/sessions/00000000-0000-0000-0000-000000000000", headers=auth)
    assert (r.status_code, r.json()["code"]) == (404, "session_not_found")
    assert (await client.delete("/v1/sessions/current", headers=auth)).status_code == 204


@pytest.fixture
async def staffed(tmp_path, service_env):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/id.db", consumers_enabled=False,
                              support_staff_emails="agent@manager.example", **service_env))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as c:
            yield c


async def _login(client, email, password):
    r = await client.post("/v1/sessions", json={"email": email, "password": password})
    return r, {"Authorization": f"Bearer {r.json().get('access_token')}"}


async def test_idn_17_18_support_verifies_code_then_blocks_and_unblocks(staffed):
    c = staffed
    await c.post("/v1/accounts", json=SIGNUP)
    await c.post("/v1/accounts", json={**SIGNUP, "email": "agent@manager.example", "password": "Helpdesk-Lugano-2026"})
    user, user_auth = await _login(c, SIGNUP["email"], SIGNUP["password"])
    _, agent = await _login(c, "agent@manager.example", "Helpdesk-Lugano-2026")
    code = (await c.post("/v1/me/support-code", headers=user_auth)).json()["code"]

    # a user is not support staff
    r = await c.post("/v1/support/verify-code", headers=user_auth, json={"email": SIGNUP["email"], "code": code})
    assert (r.status_code, r.json()["code"]) == (403, "support_only")
    r = await c.post("/v1/support/verify-code", headers=agent, json={"email": SIGNUP["email"], "code": "0000 0000"})
    assert (r.status_code, r.json()["code"]) == (404, "support_code_invalid")
    r = await c.post("/v1/support/verify-code", headers=agent, json={"email": SIGNUP["email"], "code": code})
    account_id = r.json()["account_id"]
    r2 = await c.post("/v1/support/verify-code", headers=agent, json={"email": SIGNUP["email"], "code": code})
    assert r.status_code == 200 and r2.status_code == 404  # single use

    r = await c.post(f"/v1/support/accounts/{account_id}/block", headers=agent, json={"reason": "short"})
    assert r.status_code == 422  # a justification is required
    r = await c.post(f"/v1/support/accounts/{account_id}/block", headers=agent,
                     json={"reason": "support code checked, phishing report #4711"})
    assert r.json()["status"] == "blocked"
    refreshed = await c.post("/v1/sessions/refresh", json={"refresh_token": user.json()["refresh_token"]})
    assert refreshed.status_code == 401  # every session ended at once
    r, _ = await _login(c, SIGNUP["email"], SIGNUP["password"])
    assert (r.status_code, r.json()["code"]) == (403, "account_blocked")

    r = await c.post(f"/v1/support/accounts/{account_id}/unblock", headers=agent,
                     json={"reason": "owner confirmed by phone, ticket #4711"})
    assert r.json()["status"] == "active"
    r, _ = await _login(c, SIGNUP["email"], SIGNUP["password"])
    assert r.status_code == 200

    events = await recorded(c)
    status = [(e.type, e.account_version) for e in events if e.type in ("AccountBlocked", "AccountUnblocked")]
    assert status == [("AccountBlocked", 2), ("AccountUnblocked", 3)]


async def test_x_03_huge_paging_cursor_is_a_422_not_a_500(client):
    tokens, auth = await _signed_in(client)  # found by the Schemathesis run
    r = await client.get("/v1/me/activity?before=59321735369085272064&limit=17", headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


async def test_x_03_identity_answers_times_with_an_offset(client):
    """On SQLite (no time zone type) every time identity answers is RFC 3339
    with an offset: the account, its sessions and its activity."""
    from manager_shared.testing.times import assert_times_have_offsets

    await client.post("/v1/accounts", json=SIGNUP)
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]},
                          headers={"User-Agent": FIREFOX, "X-Forwarded-For": "80.128.1.1"})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert_times_have_offsets((await client.get("/v1/me", headers=auth)).json())
    assert_times_have_offsets((await client.get("/v1/sessions", headers=auth)).json(), expect=2)
    assert_times_have_offsets((await client.get("/v1/me/activity", headers=auth)).json())
