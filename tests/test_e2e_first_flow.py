"""End to end across processes: the Tansu broker, PostgreSQL databases, a real
SMTP server and the five services started as separate processes, driven over
HTTP like a client would (IDN-01/02/03/07/09, ORG-01, BIL-01, NTF-02/04)."""
from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from manager_shared.testing.platform import SERVICES, Platform
from manager_shared.testing.polling import eventually

pytestmark = pytest.mark.e2e

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
ZURICH, BERN, BERLIN = "195.186.1.1", "83.76.1.1", "80.128.1.1"  # CH, CH, DE in the geo-IP data



def sign_in(identity: httpx.Client, email: str, ip: str) -> httpx.Response:
    return identity.post("/v1/sessions", json={"email": email, "password": "Alpenrose-Matterhorn-42"},
                         headers={"X-Forwarded-For": ip, "User-Agent": FIREFOX})


def consumed(platform: Platform, service: str, event_type: str, outcome: str) -> float:
    text = httpx.get(f"{platform.url(service)}/metrics").text
    pattern = rf'events_consumed_total\{{[^}}]*outcome="{outcome}"[^}}]*type="{event_type}"[^}}]*\}} ([0-9.e+]+)'
    return sum(float(v) for v in re.findall(pattern, text))


async def _find_event(bootstrap: str, topic: str, event_type: str, account_id: str) -> tuple[bytes, bytes]:
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                              group_id=f"e2e-{uuid.uuid4().hex[:6]}", session_timeout_ms=1000,
                              heartbeat_interval_ms=300)
    await reader.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for r in records:
                    if f'"type":"{event_type}"'.encode() in r.value and account_id.encode() in r.value:
                        return r.key, r.value
    finally:
        await reader.stop()
    raise AssertionError(f"{event_type} for {account_id} not found on {topic}")


async def _republish(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def test_idn_07_first_flow_end_to_end(platform, mail_catcher):
    email = f"anna.{uuid.uuid4().hex[:6]}@example.ch"
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)

    # IDN-01: sign-up (from Zurich), in German
    r = identity.post("/v1/accounts", json={"email": email.upper(), "password": "Alpenrose-Matterhorn-42",
                                            "first_name": "Anna", "last_name": "Muster", "language": "de",
                                            "time_zone": "Europe/Zurich"},
                      headers={"X-Forwarded-For": ZURICH, "User-Agent": FIREFOX})
    assert r.status_code == 202, r.text

    # IDN-03: sign-in from another Swiss address, same browser: a known place
    r = sign_in(identity, email, BERN)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    account_id = identity.get("/v1/me", headers=auth).json()["id"]

    # IDN-02 / ORG-01: the personal organization, created through events only
    orgs = httpx.Client(base_url=platform.url("organizations"), timeout=10, headers=auth)
    mine = eventually(lambda: orgs.get("/v1/organizations").json())
    assert [(o["name"], o["role"]) for o in mine] == [("Anna Muster", "legal_representative")]
    org_id = mine[0]["id"]

    # BIL-01: billing opened the organization's billing account from OrganizationCreated
    billing = httpx.Client(base_url=platform.url("billing"), timeout=10, headers=auth)
    account = eventually(lambda: (r := billing.get(f"/v1/organizations/{org_id}/billing-account")).status_code == 200
                         and r.json())
    assert account["currency"] == "CHF"
    # domains knows the organization and its member from the same events
    domains = httpx.Client(base_url=platform.url("domains"), timeout=10, headers=auth)
    assert eventually(lambda: domains.get(f"/v1/organizations/{org_id}/domains").status_code == 200)

    # IDN-07: a sign-in from Germany is a new location → one security e-mail, in German
    assert sign_in(identity, email, BERLIN).status_code == 200
    def to_anna(m: dict) -> bool:  # she signed up typing her address in capitals
        return email in [a.lower() for a in m["to"]]

    mails = mail_catcher.wait_for(to_anna, timeout=45)
    assert len(mails) == 1, mails
    mail = mails[0]
    assert "Deutschland" in mail["text"] and "Firefox" in mail["text"]  # German country name, the device
    # IDN-09: no sign-in link, in either body
    assert not re.search(r"https?://|href=", mail["text"] + mail["html"], re.I)

    # a repeat from a known place sends nothing more
    assert sign_in(identity, email, BERLIN).status_code == 200
    assert sign_in(identity, email, BERN).status_code == 200

    # NTF-04: the same LoginFromNewLocation delivered again → still one mail
    key, value = asyncio.run(_find_event(platform.bootstrap, "identity.account.v1", "LoginFromNewLocation", account_id))
    before = consumed(platform, "notifications", "LoginFromNewLocation", "duplicate")
    asyncio.run(_republish(platform.bootstrap, "identity.account.v1", key, value))
    eventually(lambda: consumed(platform, "notifications", "LoginFromNewLocation", "duplicate") > before)
    time.sleep(1.0)  # let any (wrong) second delivery reach the SMTP server
    assert len([m for m in mail_catcher.messages if to_anna(m)]) == 1


def test_x_03_services_answer_bad_input_with_stable_codes(platform):
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
    r = identity.post("/v1/accounts", content=b"{nope", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
    r = identity.post("/v1/accounts", json={"email": "not-an-address", "password": "Zebra7!"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert "Zebra7" not in r.text  # input (maybe a password) is never echoed
    for name in SERVICES:
        base = platform.url(name)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert "http_requests_total" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/openapi.json").status_code == 200
    r = httpx.get(f"{platform.url('organizations')}/v1/organizations", headers={"Authorization": "Bearer x.y.z"})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")


def test_idn_18_block_stops_the_account_in_every_service(platform):
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
    email = f"bea.{uuid.uuid4().hex[:6]}@example.fr"
    for address, password in ((email, "Camembert-Normandie-17"), ("agent@manager.example", "Helpdesk-Lugano-2026")):
        identity.post("/v1/accounts", json={"email": address, "password": password, "first_name": "B",
                                            "last_name": "C", "language": "fr"})
    user = identity.post("/v1/sessions", json={"email": email, "password": "Camembert-Normandie-17"}).json()
    agent = identity.post("/v1/sessions", json={"email": "agent@manager.example",
                                                "password": "Helpdesk-Lugano-2026"}).json()
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    account_id = identity.get("/v1/me", headers=auth).json()["id"]
    orgs = httpx.Client(base_url=platform.url("organizations"), timeout=10, headers=auth)
    org_id = eventually(lambda: orgs.get("/v1/organizations").json())[0]["id"]
    billing = httpx.Client(base_url=platform.url("billing"), timeout=10, headers=auth)
    eventually(lambda: billing.get(f"/v1/organizations/{org_id}/billing-account").status_code == 200)

    r = identity.post(f"/v1/support/accounts/{account_id}/block", json={"reason": "phishing report #4711"},
                      headers={"Authorization": f"Bearer {agent['access_token']}"})
    assert r.json()["status"] == "blocked"
    # the user's access token has not expired, yet every service now refuses it
    for client, path in ((orgs, "/v1/organizations"), (billing, f"/v1/organizations/{org_id}/billing-account")):
        refused = eventually(lambda: (r := client.get(path)).status_code == 403 and r.json())
        assert refused["code"] == "account_blocked"
    assert identity.post("/v1/sessions/refresh", json={"refresh_token": user["refresh_token"]}).status_code == 401
