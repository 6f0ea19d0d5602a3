"""IDN-03 / IDN-18 / ASVS 7.4: a session identity ended stops working at
once in identity, from its own rows (these apps run without consumers, so no
event comes back), and SessionsEnded tells every other service which `sid`s
to refuse. On SQLite and PostgreSQL (conftest's `client`)."""
from __future__ import annotations

from manager_shared.testing.fixtures import recorded

SIGNUP = {"email": "lea@example.ch", "password": "Gotthard-Tunnel-Sbb-1882", "first_name": "Lea",
          "last_name": "Frei", "language": "de", "time_zone": "Europe/Zurich"}
NEW_PASSWORD = "Rigi-Kulm-Zahnradbahn-1871"


async def _session(client, password=SIGNUP["password"]) -> tuple[dict, dict]:
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": password})
    assert r.status_code == 200, r.text
    tokens = r.json()
    return tokens, {"Authorization": f"Bearer {tokens['access_token']}"}


def _refused(r, code="session_ended", status=401) -> bool:
    return (r.status_code, r.json().get("code")) == (status, code)


async def _ended(client) -> list[tuple[str, list[str]]]:
    return [(e.reason, sorted(map(str, e.session_ids))) for e in await recorded(client, "SessionsEnded")]


async def test_idn_03_signed_out_and_revoked_sessions_are_refused_at_once(client):
    await client.post("/v1/accounts", json=SIGNUP)
    (a, auth_a), (b, auth_b), (c, auth_c) = [await _session(client) for _ in range(3)]
    assert (await client.delete("/v1/sessions/current", headers=auth_a)).status_code == 204
    assert _refused(await client.get("/v1/me", headers=auth_a))
    assert _refused(await client.delete("/v1/sessions/current", headers=auth_a))  # a second sign-out too
    assert (await client.get("/v1/me", headers=auth_b)).status_code == 200

    assert (await client.delete(f"/v1/sessions/{c['session_id']}", headers=auth_b)).status_code == 204
    assert _refused(await client.get("/v1/sessions", headers=auth_c))
    assert (await client.get("/v1/me", headers=auth_b)).status_code == 200
    assert await _ended(client) == [("signed_out", [a["session_id"]]), ("revoked", [c["session_id"]])]


async def test_idn_03_a_reused_refresh_token_ends_the_session_everywhere(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens, auth = await _session(client)
    fresh = (await client.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    r = await client.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})  # the thief's copy
    assert _refused(r, "invalid_refresh_token")
    for token in (tokens["access_token"], fresh["access_token"]):  # both tokens of the session, not yet expired
        assert _refused(await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}))
    assert await _ended(client) == [("refresh_token_reused", [tokens["session_id"]])]


async def test_idn_05_password_change_ends_the_other_sessions_not_this_one(client):
    await client.post("/v1/accounts", json=SIGNUP)
    (mine, auth), (other, other_auth), (third, third_auth) = [await _session(client) for _ in range(3)]
    r = await client.post("/v1/me/password", headers=auth,
                          json={"current_password": SIGNUP["password"], "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert (await client.get("/v1/me", headers=auth)).status_code == 200
    for gone in (other_auth, third_auth):
        assert _refused(await client.get("/v1/me", headers=gone))
    [(reason, ids)] = await _ended(client)
    assert (reason, ids) == ("password_changed", sorted([other["session_id"], third["session_id"]]))
    [event] = await recorded(client, "SessionsEnded")
    [changed] = await recorded(client, "PasswordChanged")
    assert event.account_version == changed.account_version  # the account's revision after the change


async def test_idn_13_password_reset_ends_every_session(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens, auth = await _session(client)
    assert (await client.post("/v1/password-reset", json={"email": SIGNUP["email"]})).status_code == 202
    [sent] = await recorded(client, "PasswordResetRequested")
    r = await client.post("/v1/password-reset/confirm", json={"email": SIGNUP["email"], "code": sent.code,
                                                              "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert _refused(await client.get("/v1/me", headers=auth))
    assert await _ended(client) == [("password_reset", [tokens["session_id"]])]


async def test_idn_18_identity_refuses_a_blocked_account_from_its_own_state(make_client, database_url, frozen):
    async with make_client(database_url, frozen, support_staff_emails="agent@manager.example") as c:
        await c.post("/v1/accounts", json=SIGNUP)
        await c.post("/v1/accounts", json={**SIGNUP, "email": "agent@manager.example",
                                           "password": "Helpdesk-Lugano-2026"})
        user, auth = await _session(c)
        r = await c.post("/v1/sessions", json={"email": "agent@manager.example", "password": "Helpdesk-Lugano-2026"})
        agent = {"Authorization": f"Bearer {r.json()['access_token']}"}
        account_id = (await c.get("/v1/me", headers=auth)).json()["id"]
        r = await c.post(f"/v1/support/accounts/{account_id}/block", headers=agent,
                         json={"reason": "phishing report #4711, owner called"})
        assert r.json()["status"] == "blocked"
        # consumers are off here: the refusal comes from identity's own account row, not the event
        assert _refused(await c.get("/v1/me", headers=auth), "account_blocked", 403)
        assert await _ended(c) == [("blocked", [user["session_id"]])]
        r = await c.post(f"/v1/support/accounts/{account_id}/unblock", headers=agent,
                         json={"reason": "owner confirmed by phone, ticket #4711"})
        assert r.json()["status"] == "active"
        assert _refused(await c.get("/v1/me", headers=auth))  # unblocking does not revive ended sessions
