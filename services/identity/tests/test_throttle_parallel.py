"""IDN-04 under real concurrency: N requests fired at once at identity's app
(one event loop, a real SQLite file or PostgreSQL server) must not get more
secrets evaluated than the throttle allows. The check and the record of the
attempt are one atomic step, so the answers are at most `limit` x 401 (or
422 for codes) and the rest 429 too_many_attempts."""
from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import pyotp

PARALLEL = 40
LIMIT = 10  # the lock; the delays are switched off so the lock is the only limit
SIGNUP = {"email": "vera@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Vera",
          "last_name": "Frei", "language": "de", "time_zone": "Europe/Zurich"}
SYNC_KEY = "imap-server-key-0123456789abcdef"
THROTTLE = dict(account_delay_after=LIMIT, account_lock_after=LIMIT, ip_delay_after=LIMIT, ip_lock_after=LIMIT,
                sync_client_key_hashes=hashlib.sha256(SYNC_KEY.encode()).hexdigest())


async def _burst(make_request) -> Counter:
    answers = await asyncio.gather(*(make_request(i) for i in range(PARALLEL)))
    return Counter(r.status_code for r in answers)


async def _auth(client):
    r = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_idn_04_parallel_wrong_passwords_of_one_account_stop_at_the_lock(make_client, database_url, frozen):
    async with make_client(database_url, frozen, **{**THROTTLE, "ip_delay_after": 1000, "ip_lock_after": 1000}) as c:
        assert (await c.post("/v1/accounts", json=SIGNUP)).status_code == 202
        seen = await _burst(lambda i: c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": f"no-{i}"}))
        assert seen == {401: LIMIT, 429: PARALLEL - LIMIT}, seen
        # the right password is locked out too, and a success later releases what it reserved
        r = await c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
        assert (r.status_code, r.json()["code"]) == (429, "too_many_attempts")


async def test_idn_04_parallel_failures_from_one_address_stop_at_its_lock(make_client, database_url, frozen):
    async with make_client(database_url, frozen, **THROTTLE) as c:
        seen = await _burst(lambda i: c.post("/v1/sessions", json={"email": f"u{i}@example.ch", "password": "x" * 9}))
        assert seen == {401: LIMIT, 429: PARALLEL - LIMIT}, seen


async def test_idn_04_parallel_right_passwords_are_not_throttled(make_client, database_url, frozen):
    """The reservation of an attempt is given back on success: a burst of
    good sign-ins from one address never locks it."""
    async with make_client(database_url, frozen, **THROTTLE) as c:
        assert (await c.post("/v1/accounts", json=SIGNUP)).status_code == 202
        seen = await _burst(lambda i: c.post("/v1/sessions", json={"email": SIGNUP["email"],
                                                                   "password": SIGNUP["password"]}))
        assert seen[200] >= LIMIT and seen[200] + seen[429] == PARALLEL, seen
        r = await c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
        assert r.status_code == 200, r.text


async def test_idn_04_parallel_wrong_second_factors_stop_at_the_lock(make_client, database_url, frozen):
    async with make_client(database_url, frozen, **{**THROTTLE, "ip_delay_after": 1000, "ip_lock_after": 1000}) as c:
        assert (await c.post("/v1/accounts", json=SIGNUP)).status_code == 202
        auth = await _auth(c)
        enrol = (await c.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})).json()
        app = pyotp.TOTP(enrol["secret"])
        code = app.at(frozen.now())
        r = await c.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": code})
        assert r.status_code == 200, r.text
        first = await c.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
        token = first.json()["mfa_token"]
        wrong = "000000" if code != "000000" else "111111"
        seen = await _burst(lambda i: c.post("/v1/sessions/mfa", json={"mfa_token": token, "code": wrong}))
        assert seen == {401: LIMIT, 429: PARALLEL - LIMIT}, seen


async def test_idn_04_parallel_wrong_app_passwords_stop_at_the_lock(make_client, database_url, frozen):
    async with make_client(database_url, frozen, **{**THROTTLE, "ip_delay_after": 1000, "ip_lock_after": 1000}) as c:
        assert (await c.post("/v1/accounts", json=SIGNUP)).status_code == 202
        seen = await _burst(lambda i: c.post("/v1/sync/check", headers={"X-Sync-Client-Key": SYNC_KEY},
                                             json={"login": SIGNUP["email"], "password": f"abcde-fghjk-{i:05d}"}))
        assert seen == {401: LIMIT, 429: PARALLEL - LIMIT}, seen


async def test_idn_04_idn_13_parallel_wrong_reset_codes_stop_at_the_lock(make_client, database_url, frozen):
    async with make_client(database_url, frozen, **{**THROTTLE, "ip_delay_after": 1000, "ip_lock_after": 1000}) as c:
        assert (await c.post("/v1/accounts", json=SIGNUP)).status_code == 202
        assert (await c.post("/v1/password-reset", json={"email": SIGNUP["email"]})).status_code == 202
        seen = await _burst(lambda i: c.post("/v1/password-reset/confirm", json={
            "email": "nobody@example.ch", "code": f"{i:08d}", "new_password": "Gent-Belfort-Waffle-Spring-2"}))
        assert seen == {422: LIMIT, 429: PARALLEL - LIMIT}, seen


async def test_idn_04_idn_13_parallel_reset_requests_stop_at_the_hourly_cap(make_client, database_url, frozen):
    async with make_client(database_url, frozen, password_reset_requests_per_hour=5) as c:
        seen = await _burst(lambda i: c.post("/v1/password-reset", json={"email": SIGNUP["email"]}))
        assert seen == {202: 5, 429: PARALLEL - 5}, seen
