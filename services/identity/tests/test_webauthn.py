"""IDN-14b security keys (WebAuthn), driven by a software authenticator
(soft-webauthn: a real P-256 key, "none" attestation, authenticatorData and
clientDataJSON as a browser and key produce them); IDN-19 recent sign-in."""
from __future__ import annotations

import copy

import httpx
import jwt
import pyotp
import pytest
import sqlalchemy as sa
from soft_webauthn import SoftWebauthnDevice
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from identity.models import WebAuthnCredential

ORIGIN = "http://localhost:8001"
TINA = {"email": "tina@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Tina",
        "last_name": "Keller", "language": "de", "time_zone": "Europe/Zurich"}
MARC = {"email": "marc@example.ch", "password": "Simplon-Pass-Postauto-4", "first_name": "Marc",
        "last_name": "Rey", "language": "fr", "time_zone": "Europe/Zurich"}


class Browser:
    """The browser's half of WebAuthn around one SoftWebauthnDevice: JSON
    options in, credential JSON (base64url fields, as credential.toJSON()) out."""

    def __init__(self, device: SoftWebauthnDevice | None = None, origin: str = ORIGIN) -> None:
        self.device, self.origin = device or SoftWebauthnDevice(), origin

    @staticmethod
    def _options(public_key: dict) -> dict:
        return {"publicKey": {**public_key, "challenge": base64url_to_bytes(public_key["challenge"])}}

    def create(self, public_key: dict) -> dict:
        made = self.device.create(self._options(public_key), self.origin)
        return _json(made, {"transports": ["usb"]})

    def get(self, public_key: dict) -> dict:
        return _json(self.device.get(self._options(public_key), self.origin), {})


def _json(made: dict, extra: dict) -> dict:
    # (userHandle is already base64url: the user id as the JSON options carried it)
    response = {k: v if isinstance(v, str) else bytes_to_base64url(v)
                for k, v in made["response"].items() if v is not None}
    raw = made["rawId"]
    return {"id": bytes_to_base64url(raw), "rawId": bytes_to_base64url(raw), "type": "public-key",
            "response": response | extra, "clientExtensionResults": {}}


@pytest.fixture
def clock(frozen):
    return frozen


@pytest.fixture
async def client(make_client, database_url, clock):
    async with make_client(database_url, clock) as c:
        yield c


async def _account(client, who: dict) -> dict:
    await client.post("/v1/accounts", json=who)
    r = await client.post("/v1/sessions", json={"email": who["email"], "password": who["password"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _register(client, auth: dict, browser: Browser, name: str = "YubiKey") -> dict:
    begin = await client.post("/v1/me/2fa/webauthn", headers=auth, json={"name": name})
    assert begin.status_code == 201, begin.text
    options = begin.json()
    credential = browser.create(options["public_key"])
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth,
                          json={"challenge_id": options["challenge_id"], "credential": credential})
    assert r.status_code == 200, r.text
    return r.json()


async def _mfa_token(client, who: dict) -> str:
    r = await client.post("/v1/sessions", json={"email": who["email"], "password": who["password"]})
    assert r.json()["mfa_required"] is True
    return r.json()["mfa_token"]


async def _options(client, token: str) -> dict:
    r = await client.post("/v1/sessions/mfa/webauthn/options", json={"mfa_token": token})
    assert r.status_code == 200, r.text
    return r.json()["public_key"]


async def _finish(client, token: str, assertion: dict) -> httpx.Response:
    return await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "webauthn",
                                                       "webauthn": assertion})


async def test_idn_14b_register_a_key_then_sign_in_with_it(client):
    auth = await _account(client, TINA)
    options = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={"name": "YubiKey"})).json()
    pk = options["public_key"]
    assert pk["rp"] == {"id": "localhost", "name": "Manager"} and pk["attestation"] == "none"
    assert pk["user"]["name"] == TINA["email"] and {"type": "public-key", "alg": -7} in pk["pubKeyCredParams"]
    browser = Browser()
    done = await client.post("/v1/me/2fa/webauthn/finish", headers=auth, json={
        "challenge_id": options["challenge_id"], "credential": browser.create(pk)})
    assert done.status_code == 200, done.text
    assert done.json()["method"]["kind"] == "webauthn" and len(done.json()["emergency_codes"]) == 10
    # the registration request worked once
    again = await client.post("/v1/me/2fa/webauthn/finish", headers=auth, json={
        "challenge_id": options["challenge_id"], "credential": Browser().create(pk)})
    assert (again.status_code, again.json()["code"]) == (422, "webauthn_challenge_invalid")
    assert [m["kind"] for m in (await client.get("/v1/me/2fa", headers=auth)).json()] == ["webauthn"]
    async with client._transport.app.state.runtime.db.transaction() as s:
        key = (await s.execute(sa.select(WebAuthnCredential))).scalar_one()
    assert key.credential_id == bytes_to_base64url(browser.device.credential_id) and key.transports == "usb"

    challenge = (await client.post("/v1/sessions", json={"email": TINA["email"], "password": TINA["password"]})).json()
    assert "webauthn" in challenge["methods"]
    request = await _options(client, challenge["mfa_token"])
    assert request["rpId"] == "localhost"
    assert [c["id"] for c in request["allowCredentials"]] == [key.credential_id]
    r = await _finish(client, challenge["mfa_token"], browser.get(request))
    assert r.status_code == 200, r.text
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "hwk"]
    async with client._transport.app.state.runtime.db.transaction() as s:
        key = (await s.execute(sa.select(WebAuthnCredential))).scalar_one()
    assert key.sign_count == 1 and key.last_used_at is not None


async def test_idn_14b_a_second_key_adds_no_new_emergency_codes_and_the_same_key_is_refused(client):
    auth = await _account(client, TINA)
    first = Browser()
    assert (await _register(client, auth, first))["emergency_codes"]
    assert (await _register(client, auth, Browser(), "Backup key"))["emergency_codes"] is None
    options = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={})).json()
    assert len(options["public_key"]["excludeCredentials"]) == 2
    # a key ignoring excludeCredentials and attesting its existing credential
    # again: the same credential id is not stored twice
    same = copy.deepcopy(first.device)
    same.cred_init = lambda rp_id, user_handle: None  # keep its credential id and private key
    made = Browser(same).create(options["public_key"])
    assert made["id"] == bytes_to_base64url(first.device.credential_id)
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth,
                          json={"challenge_id": options["challenge_id"], "credential": made})
    assert (r.status_code, r.json()["code"]) == (409, "webauthn_key_exists")
    assert len((await client.get("/v1/me/2fa", headers=auth)).json()) == 2


async def test_idn_14b_replayed_assertion_is_refused(client):
    auth = await _account(client, TINA)
    browser = Browser()
    await _register(client, auth, browser)
    token = await _mfa_token(client, TINA)
    assertion = browser.get(await _options(client, token))
    assert (await _finish(client, token, assertion)).status_code == 200
    # the same assertion on a new sign-in (its own challenge) is refused
    token = await _mfa_token(client, TINA)
    await _options(client, token)
    r = await _finish(client, token, assertion)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    # the same assertion with the same (already spent) mfa_token too
    assert (await _finish(client, token, assertion)).status_code == 401


async def test_idn_14b_wrong_origin_is_refused_and_spends_the_challenge(client):
    auth = await _account(client, TINA)
    browser = Browser()
    await _register(client, auth, browser)
    token = await _mfa_token(client, TINA)
    request = await _options(client, token)
    phished = Browser(browser.device, origin="https://manager.example.evil").get(request)
    r = await _finish(client, token, phished)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    # the challenge worked once: a genuine answer to it is now refused
    assert (await _finish(client, token, browser.get(request))).status_code == 401
    # a new request for the same sign-in works
    assert (await _finish(client, token, browser.get(await _options(client, token)))).status_code == 200


async def test_idn_14b_counter_regression_of_a_cloned_key_is_refused(client):
    auth = await _account(client, TINA)
    browser = Browser()
    await _register(client, auth, browser)
    clone = Browser(copy.deepcopy(browser.device))  # same private key, same counter (0)
    token = await _mfa_token(client, TINA)
    assert (await _finish(client, token, browser.get(await _options(client, token)))).status_code == 200
    token = await _mfa_token(client, TINA)
    assert (await _finish(client, token, browser.get(await _options(client, token)))).status_code == 200
    # the clone signs correctly but its counter (1) is not above the stored one (2)
    token = await _mfa_token(client, TINA)
    r = await _finish(client, token, clone.get(await _options(client, token)))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")
    async with client._transport.app.state.runtime.db.transaction() as s:
        assert (await s.execute(sa.select(WebAuthnCredential.sign_count))).scalar_one() == 2


async def test_idn_14b_key_of_another_account_is_refused(client):
    tina_auth = await _account(client, TINA)
    await _register(client, tina_auth, Browser())
    marc = Browser()
    await _register(client, await _account(client, MARC), marc)
    token = await _mfa_token(client, TINA)
    request = await _options(client, token)
    r = await _finish(client, token, marc.get(request))  # Marc's key, genuinely signing Tina's challenge
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")


async def test_idn_14b_expired_options_and_malformed_assertions_are_refused(client, clock):
    auth = await _account(client, TINA)
    browser = Browser()
    await _register(client, auth, browser)
    key_id = bytes_to_base64url(browser.device.credential_id)
    for bad in ({}, {"id": 42}, {"id": "!!"}, {"id": key_id}, {"id": key_id, "response": {"clientDataJSON": "e30"}},
                {"id": key_id, "rawId": key_id, "type": "public-key", "response": {
                    "clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}):
        token = await _mfa_token(client, TINA)
        await _options(client, token)
        r = await _finish(client, token, bad)
        assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor"), bad
        clock.advance(seconds=60)  # past the growing delay of the second step (IDN-04)
    token = await _mfa_token(client, TINA)
    request = await _options(client, token)
    clock.advance(seconds=301)
    assert (await _finish(client, token, browser.get(request))).status_code == 401


async def test_idn_14b_no_key_means_no_options(client, clock):
    auth = await _account(client, TINA)
    begin = (await client.post("/v1/me/2fa/totp", headers=auth, json={})).json()
    r = await client.post(f"/v1/me/2fa/totp/{begin['id']}/confirm", headers=auth,
                          json={"code": pyotp.TOTP(begin["secret"]).at(clock.now())})
    assert r.status_code == 200
    token = await _mfa_token(client, TINA)
    r = await client.post("/v1/sessions/mfa/webauthn/options", json={"mfa_token": token})
    assert (r.status_code, r.json()["code"]) == (409, "no_security_key")
    r = await client.post("/v1/sessions/mfa/webauthn/options", json={"mfa_token": "x" * 40})
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")


async def test_idn_19_adding_a_key_needs_a_recent_sign_in(client, clock):
    auth = await _account(client, TINA)
    options = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={})).json()
    credential = Browser().create(options["public_key"])
    clock.advance(minutes=6)
    for r in (await client.post("/v1/me/2fa/webauthn", headers=auth, json={}),
              await client.post("/v1/me/2fa/webauthn/finish", headers=auth,
                                json={"challenge_id": options["challenge_id"], "credential": credential})):
        assert (r.status_code, r.json()["code"]) == (403, "reauthentication_required")


async def test_idn_14b_registration_with_a_wrong_origin_or_challenge_is_refused(client):
    auth = await _account(client, TINA)
    options = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={})).json()
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth, json={
        "challenge_id": options["challenge_id"],
        "credential": Browser(origin="https://evil.example").create(options["public_key"])})
    assert (r.status_code, r.json()["code"]) == (422, "webauthn_invalid")
    other = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={})).json()
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth, json={
        "challenge_id": other["challenge_id"], "credential": Browser().create(options["public_key"])})
    assert (r.status_code, r.json()["code"]) == (422, "webauthn_invalid")
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth, json={
        "challenge_id": "00000000-0000-0000-0000-000000000000", "credential": {"id": "x"}})
    assert (r.status_code, r.json()["code"]) == (422, "webauthn_challenge_invalid")
    assert (await client.get("/v1/me/2fa", headers=auth)).json() == []


@pytest.mark.parametrize("credential", [
    {}, {"id": "AA", "rawId": "AA", "type": "public-key", "response": "x"},
    {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": 5, "attestationObject": []}},
    {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "e30", "attestationObject": "oA"}},
])
async def test_idn_14b_malformed_registration_is_refused_not_a_server_error(client, credential):
    auth = await _account(client, TINA)
    options = (await client.post("/v1/me/2fa/webauthn", headers=auth, json={})).json()
    r = await client.post("/v1/me/2fa/webauthn/finish", headers=auth,
                          json={"challenge_id": options["challenge_id"], "credential": credential})
    assert (r.status_code, r.json()["code"]) == (422, "webauthn_invalid")
