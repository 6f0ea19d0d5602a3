"""IDN-14d push approval on the provider's app: pairing a device (its key
made here with `cryptography`, as the app makes it), approving and denying
sign-ins with signed answers, expiry by the injected clock, forged and
foreign answers refused; IDN-04 a denial counts as a failure."""
from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import datetime, timedelta

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from identity.factor_push import answer_message, fetch_message, pairing_message
from identity.models import Activity, PushDevice, SigninThrottle

TINA = {"email": "tina@example.ch", "password": "Gotthard-Tunnel-Lok-9", "first_name": "Tina",
        "last_name": "Keller", "language": "de", "time_zone": "Europe/Zurich"}
MARC = {"email": "marc@example.ch", "password": "Simplon-Pass-Postauto-4", "first_name": "Marc",
        "last_name": "Rey", "language": "fr", "time_zone": "Europe/Zurich"}
PHONE_UA = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0",
            "X-Forwarded-For": "195.186.1.1"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class App:
    """The provider's app on one device: a key pair made on the device."""

    def __init__(self, kind: str = "p256") -> None:
        self.key = (ed25519.Ed25519PrivateKey.generate() if kind == "ed25519"
                    else ec.generate_private_key(ec.SECP256R1()))
        self.device_id: str | None = None

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, message: bytes) -> str:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return _b64(self.key.sign(message))
        return _b64(self.key.sign(message, ec.ECDSA(hashes.SHA256())))

    async def pending(self, client, now: datetime) -> httpx.Response:
        ts = int(now.timestamp())
        signature = self.sign(fetch_message(uuid.UUID(self.device_id), ts))
        return await client.post(f"/v1/push/devices/{self.device_id}/challenges",
                                 json={"timestamp": ts, "signature": signature})

    async def answer(self, client, challenge: dict, answer: str) -> httpx.Response:
        signature = self.sign(answer_message(uuid.UUID(challenge["challenge_id"]), answer, challenge["nonce"]))
        return await client.post(f"/v1/push/challenges/{challenge['challenge_id']}/answer",
                                 json={"device_id": self.device_id, "answer": answer, "signature": signature})


@pytest.fixture
def clock(frozen):
    return frozen


@pytest.fixture
async def client(make_client, database_url, clock):
    async with make_client(database_url, clock, trusted_proxies="127.0.0.1/32") as c:
        yield c


async def _account(client, who: dict) -> dict:
    await client.post("/v1/accounts", json=who)
    r = await client.post("/v1/sessions", json={"email": who["email"], "password": who["password"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _pair(client, auth: dict, app: App, name: str = "Pixel") -> dict:
    pairing = (await client.post("/v1/me/2fa/push", headers=auth, json={"name": name})).json()
    r = await client.post("/v1/push/devices", json={"pairing_token": pairing["pairing_token"],
                                                    "public_key": app.public_pem,
                                                    "signature": app.sign(pairing_message(pairing["pairing_token"]))})
    assert r.status_code == 201, r.text
    app.device_id = r.json()["device_id"]
    r = await client.post(f"/v1/me/2fa/push/pairings/{pairing['pairing_id']}/confirm", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def _push(client, who: dict) -> tuple[str, str]:
    r = await client.post("/v1/sessions", json={"email": who["email"], "password": who["password"]}, headers=PHONE_UA)
    token = r.json()["mfa_token"]
    r = await client.post("/v1/sessions/mfa/push", json={"mfa_token": token}, headers=PHONE_UA)
    assert r.status_code == 201, r.text
    return token, r.json()["challenge_id"]


async def _poll(client, token: str, challenge_id: str, wait: int = 0) -> httpx.Response:
    return await client.post("/v1/sessions/mfa/push/poll",
                             json={"mfa_token": token, "challenge_id": challenge_id, "wait_seconds": wait})


async def test_idn_14d_pair_a_device_then_approve_a_sign_in(client, clock):
    auth = await _account(client, TINA)
    pairing = (await client.post("/v1/me/2fa/push", headers=auth, json={"name": "Pixel"})).json()
    app = App()
    r = await client.post("/v1/push/devices", json={"pairing_token": pairing["pairing_token"],
                                                    "public_key": app.public_pem,
                                                    "signature": app.sign(pairing_message(pairing["pairing_token"]))})
    assert r.status_code == 201 and r.json()["status"] == "awaiting_confirmation"
    app.device_id = r.json()["device_id"]
    assert (await client.get("/v1/me/2fa", headers=auth)).json() == []  # not a factor before the holder confirms
    r = await client.post(f"/v1/me/2fa/push/pairings/{pairing['pairing_id']}/confirm", headers=auth)
    assert r.status_code == 200 and len(r.json()["emergency_codes"]) == 10
    assert r.json()["method"] == {**r.json()["method"], "kind": "push", "name": "Pixel", "id": app.device_id}
    # the pairing token paired one device, once
    r = await client.post("/v1/push/devices", json={"pairing_token": pairing["pairing_token"],
                                                    "public_key": App().public_pem,
                                                    "signature": app.sign(pairing_message(pairing["pairing_token"]))})
    assert (r.status_code, r.json()["code"]) == (422, "push_pairing_invalid")

    token, challenge_id = await _push(client, TINA)
    assert (r := await _poll(client, token, challenge_id)).status_code == 202 and r.json()["status"] == "pending"
    [waiting] = (await app.pending(client, clock.now())).json()
    assert waiting["challenge_id"] == challenge_id
    assert (waiting["ip"], waiting["country"], waiting["device"]) == ("195.186.1.1", "CH", "Firefox on Windows")
    r = await app.answer(client, waiting, "approve")
    assert r.json() == {"challenge_id": challenge_id, "status": "approved"}
    assert (await app.pending(client, clock.now())).json() == []
    r = await _poll(client, token, challenge_id)
    assert r.status_code == 200, r.text
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "swk"]
    # the session opened once: the mfa_token is spent
    r = await _poll(client, token, challenge_id)
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")
    r = await app.answer(client, waiting, "approve")
    assert (r.status_code, r.json()["code"]) == (409, "push_challenge_closed")


async def test_idn_14d_long_poll_returns_when_the_device_approves(client, clock):
    app = App("ed25519")
    await _pair(client, await _account(client, TINA), app)
    token, challenge_id = await _push(client, TINA)

    async def approve_soon():
        await asyncio.sleep(0.3)
        [waiting] = (await app.pending(client, clock.now())).json()
        await app.answer(client, waiting, "approve")

    approving = asyncio.create_task(approve_soon())
    started = asyncio.get_running_loop().time()
    r = await _poll(client, token, challenge_id, wait=10)
    await approving
    assert r.status_code == 200 and "access_token" in r.json()
    assert asyncio.get_running_loop().time() - started < 5


async def test_idn_14d_approved_request_also_finishes_through_the_mfa_endpoint(client, clock):
    app = App()
    await _pair(client, await _account(client, TINA), app)
    token, challenge_id = await _push(client, TINA)
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "push", "challenge_id": challenge_id})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_second_factor")  # not approved yet
    [waiting] = (await app.pending(client, clock.now())).json()
    await app.answer(client, waiting, "approve")
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "push", "challenge_id": challenge_id})
    assert r.status_code == 200, r.text


async def test_idn_14d_deny_refuses_the_sign_in_and_counts_as_a_failure(client, clock):
    app = App()
    await _pair(client, await _account(client, TINA), app)
    token, challenge_id = await _push(client, TINA)
    [waiting] = (await app.pending(client, clock.now())).json()
    assert (await app.answer(client, waiting, "deny")).json()["status"] == "denied"
    r = await _poll(client, token, challenge_id, wait=5)
    assert (r.status_code, r.json()["code"]) == (401, "push_denied")
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "push", "challenge_id": challenge_id})
    assert r.status_code == 401
    async with client._transport.app.state.runtime.db.transaction() as s:
        kinds = list((await s.execute(sa.select(Activity.kind, Activity.ip))).all())
    assert ("push_denied", "195.186.1.1") in kinds
    # and it counts as a failed second step: the throttle of this account's second step moved
    async with client._transport.app.state.runtime.db.transaction() as s:
        row = (await s.execute(sa.select(SigninThrottle).where(SigninThrottle.key.like("mfa:%")))).scalar_one()
    assert row.consecutive == 2  # the denial, then the refused /v1/sessions/mfa


async def test_idn_14d_unanswered_request_expires(client, clock):
    app = App()
    await _pair(client, await _account(client, TINA), app)
    token, challenge_id = await _push(client, TINA)
    [waiting] = (await app.pending(client, clock.now())).json()
    clock.advance(seconds=121)
    assert (await app.pending(client, clock.now())).json() == []
    r = await _poll(client, token, challenge_id)
    assert (r.status_code, r.json()["code"]) == (401, "push_expired")
    # a genuine approval arriving late is refused too, and does not open the session
    r = await app.answer(client, waiting, "approve")
    assert (r.status_code, r.json()["code"]) == (409, "push_challenge_closed")
    r = await client.post("/v1/sessions/mfa", json={"mfa_token": token, "method": "push", "challenge_id": challenge_id})
    assert r.status_code == 401


async def test_idn_14d_forged_signatures_are_refused(client, clock):
    app = App()
    await _pair(client, await _account(client, TINA), app)
    token, challenge_id = await _push(client, TINA)
    [waiting] = (await app.pending(client, clock.now())).json()
    forger = App()
    forger.device_id = app.device_id  # knows the device id, not its key
    for r in (await forger.answer(client, waiting, "approve"),
              await forger.pending(client, clock.now()),
              # the device's own signature, but over another answer or another nonce
              await client.post(f"/v1/push/challenges/{challenge_id}/answer", json={
                  "device_id": app.device_id, "answer": "approve",
                  "signature": app.sign(answer_message(uuid.UUID(challenge_id), "deny", waiting["nonce"]))}),
              await client.post(f"/v1/push/challenges/{challenge_id}/answer", json={
                  "device_id": app.device_id, "answer": "approve",
                  "signature": app.sign(answer_message(uuid.UUID(challenge_id), "approve", "other-nonce"))})):
        assert (r.status_code, r.json()["code"]) == (401, "push_signature_invalid")
    # a stale (replayed) listing request
    r = await app.pending(client, clock.now() - timedelta(minutes=5))
    assert (r.status_code, r.json()["code"]) == (401, "push_request_stale")
    assert (await _poll(client, token, challenge_id)).status_code == 202  # still waiting


async def test_idn_14d_another_accounts_device_cannot_answer(client, clock):
    tina, marc = App(), App()
    await _pair(client, await _account(client, TINA), tina)
    await _pair(client, await _account(client, MARC), marc)
    token, challenge_id = await _push(client, TINA)
    assert (await marc.pending(client, clock.now())).json() == []  # Marc's device does not see it
    [waiting] = (await tina.pending(client, clock.now())).json()
    r = await marc.answer(client, waiting, "approve")  # signed with Marc's own, valid key
    assert (r.status_code, r.json()["code"]) == (404, "push_challenge_not_found")
    assert (await _poll(client, token, challenge_id)).status_code == 202


async def test_idn_14d_pairing_needs_a_supported_key_and_its_proof(client):
    auth = await _account(client, TINA)
    pairing = (await client.post("/v1/me/2fa/push", headers=auth, json={})).json()
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    app, other = App(), App()
    for public_key, signature, code in (
            (rsa_pem, app.sign(b"x"), "push_key_unsupported"),
            ("-----BEGIN PUBLIC KEY-----\nnot a key at all, not at all\n-----END PUBLIC KEY-----", app.sign(b"x"),
             "push_key_unsupported"),
            (app.public_pem, other.sign(pairing_message(pairing["pairing_token"])), "push_signature_invalid")):
        r = await client.post("/v1/push/devices", json={"pairing_token": pairing["pairing_token"],
                                                        "public_key": public_key, "signature": signature})
        assert r.json()["code"] == code
    r = await client.post(f"/v1/me/2fa/push/pairings/{pairing['pairing_id']}/confirm", headers=auth)
    assert (r.status_code, r.json()["code"]) == (409, "push_pairing_not_ready")
    async with client._transport.app.state.runtime.db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(PushDevice))).scalar_one() == 0


async def test_idn_14d_pairing_expires_and_needs_a_recent_sign_in(client, clock):
    auth = await _account(client, TINA)
    pairing = (await client.post("/v1/me/2fa/push", headers=auth, json={})).json()
    clock.advance(seconds=601)
    app = App()
    r = await client.post("/v1/push/devices", json={"pairing_token": pairing["pairing_token"],
                                                    "public_key": app.public_pem,
                                                    "signature": app.sign(pairing_message(pairing["pairing_token"]))})
    assert (r.status_code, r.json()["code"]) == (422, "push_pairing_invalid")
    r = await client.post("/v1/me/2fa/push", headers=auth, json={})
    assert (r.status_code, r.json()["code"]) == (403, "reauthentication_required")


async def test_idn_14d_requests_per_sign_in_are_limited_and_replace_each_other(client, clock):
    app = App()
    await _pair(client, await _account(client, TINA), app)
    token, first = await _push(client, TINA)
    second = (await client.post("/v1/sessions/mfa/push", json={"mfa_token": token})).json()["challenge_id"]
    assert [c["challenge_id"] for c in (await app.pending(client, clock.now())).json()] == [second]
    r = await _poll(client, token, first)
    assert (r.status_code, r.json()["code"]) == (401, "push_expired")  # replaced
    await client.post("/v1/sessions/mfa/push", json={"mfa_token": token})
    r = await client.post("/v1/sessions/mfa/push", json={"mfa_token": token})
    assert (r.status_code, r.json()["code"]) == (429, "too_many_push_requests")


async def test_idn_14d_no_device_and_bad_tokens(client):
    await _account(client, TINA)
    r = await client.post("/v1/sessions/mfa/push", json={"mfa_token": "x" * 40})
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")
    r = await _poll(client, "x" * 40, str(uuid.uuid4()), wait=25)
    assert (r.status_code, r.json()["code"]) == (401, "mfa_token_invalid")
