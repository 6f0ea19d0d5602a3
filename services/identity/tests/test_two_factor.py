"""IDN-14 TOTP and emergency codes; IDN-03 second sign-in step; IDN-19 recent sign-in."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import httpx
import jwt
import pyotp
import pytest

from identity import totp
from identity.config import Settings
from identity.main import create_app
from manager_shared.testing.fixtures import recorded

# RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits.
RFC6238 = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
           (2000000000, "69279037"), (20000000000, "65353130")]
SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(("unix", "code"), RFC6238)
def test_idn_14a_rfc6238_vectors(unix, code):
    assert pyotp.TOTP(SECRET, digits=8).at(unix) == code


def test_idn_14a_code_accepted_once_and_within_one_step():
    secret, now = totp.new_secret(), datetime(2026, 3, 5, 12, 0, 10, tzinfo=timezone.utc)
    assert len(base64.b32decode(secret)) * 8 >= 160
    app, step = pyotp.TOTP(secret), int(now.timestamp()) // 30
    assert totp.matching_step(secret, app.generate_otp(step), now, 0) == step
    assert totp.matching_step(secret, app.generate_otp(step), now, step) is None  # replay
    assert totp.matching_step(secret, app.generate_otp(step - 1), now, 0) == step - 1  # clock skew
    assert totp.matching_step(secret, app.generate_otp(step - 2), now, 0) is None
    assert totp.matching_step(secret, "12a456", now, 0) is None


def test_idn_14_emergency_codes_are_ten_and_strong():
    codes = totp.new_emergency_codes()
    assert len(codes) == len(set(codes)) == 10 and all(len(totp.normalize_emergency(c)) == 16 for c in codes)


SIGNUP = {"email": "tina@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Tina",
          "last_name": "Keller", "language": "de", "time_zone": "Europe/Zurich"}


@pytest.fixture
async def client(tmp_path, service_env):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/id.db", consumers_enabled=False,
                              **service_env))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as c:
            yield c



async def _sign_in(client):
    return await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})


async def test_idn_14a_enrol_totp_then_sign_in_needs_it_and_a_code_works_once(client):
    await client.post("/v1/accounts", json=SIGNUP)
    auth = {"Authorization": f"Bearer {(await _sign_in(client)).json()['access_token']}"}
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})).json()
    assert enrol["provisioning_uri"].startswith("otpauth://totp/") and enrol["qr_svg"].startswith("<svg")
    app = pyotp.TOTP(enrol["secret"])
    r = await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth, json={"code": "000000"
                          if app.now() != "000000" else "111111"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_code")
    confirmed = app.now()
    codes = (await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth,
                               json={"code": confirmed})).json()["emergency_codes"]
    assert len(codes) == 10
    assert [m["name"] for m in (await client.get("/v1/me/2fa", headers=auth)).json()] == ["Phone"]

    challenge = (await _sign_in(client)).json()
    assert challenge["mfa_required"] is True and "access_token" not in challenge
    # the confirmation used this code: the same code cannot be replayed (the very code, not app.now(),
    # which is a fresh code if a 30 s step boundary passed since the confirmation)
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": challenge["mfa_token"], "code": confirmed})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    # an emergency code works, once, and the owner is told
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": challenge["mfa_token"],
                                                    "emergency_code": codes[0].upper()})
    assert r.status_code == 200
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "emergency"]
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": challenge["mfa_token"], "emergency_code": codes[0]})
    assert r.status_code == 401
    # the mfa token is not an access token anywhere
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {challenge['mfa_token']}"})).status_code == 401

    types = [(e.type, getattr(e, "methods", None), getattr(e, "remaining", None)) for e in await recorded(client)]
    assert ("TwoFactorEnabled", 1, None) in types and ("EmergencyCodeUsed", None, 9) in types


async def test_idn_19_enrolment_needs_a_recent_sign_in(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens = (await _sign_in(client)).json()
    service = client._transport.app.state.identity
    service.clock = _Later(minutes=6)  # the sign-in is now 6 minutes old
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = await client.post("/v1/me/2fa/totp", headers=auth, json={"name": "Phone"})
    assert (r.status_code, r.json()["code"]) == (403, "reauthentication_required")


class _Later:
    def __init__(self, **delta):
        from datetime import timedelta
        self.delta = timedelta(**delta)

    def now(self):
        return datetime.now(timezone.utc) + self.delta


async def test_idn_04_second_step_is_throttled(client):
    await client.post("/v1/accounts", json=SIGNUP)
    auth = {"Authorization": f"Bearer {(await _sign_in(client)).json()['access_token']}"}
    enrol = (await client.post("/v1/me/2fa/totp", headers=auth, json={})).json()
    await client.post(f"/v1/me/2fa/totp/{enrol['id']}/confirm", headers=auth,
                      json={"code": pyotp.TOTP(enrol["secret"]).now()})
    token = (await _sign_in(client)).json()["mfa_token"]
    statuses = [(await client.post("/v1/sessions/mfa", json={"mfa_token": token, "code": f"{n:06d}"})).status_code
                for n in range(5)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses
