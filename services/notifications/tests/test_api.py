"""The delivery log over HTTP (NTF-04)."""
from __future__ import annotations

import uuid

import httpx
import pytest

from manager_shared.testing.tokens import TestTokens
from notifications.models import SENT


@pytest.fixture
def bearer(harness):
    tokens = TestTokens().trust_in(harness.app)
    return tokens.headers


@pytest.fixture
async def client(harness):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(harness.app), base_url="http://test") as c:
        yield c


async def test_ntf_04_delivery_log_lists_own_messages_with_status(harness, client, events, bearer):
    account = events.registered("de")
    other = events.registered("en")
    first, second = events.new_location(account.account_id), events.new_location(account.account_id, ip="198.51.100.9")
    await harness.feed(account, other, first, second, events.new_location(other.account_id))
    await harness.deliver_until(lambda: _all_sent(harness))
    auth = bearer(account.account_id)
    page = (await client.get("/v1/messages", headers=auth)).json()
    assert [m["event_id"] for m in page["items"]] == [str(second.event_id), str(first.event_id)]
    assert {(m["status"], m["attempts"], m["language"], m["template"]) for m in page["items"]} == {
        ("sent", 1, "de", "login_from_new_location")}
    assert page["items"][0]["subject"] == "Neue Anmeldung bei Ihrem Manager-Konto"
    assert page["items"][0]["sent_at"] and page["next_before"] is None
    one = (await client.get("/v1/messages", params={"limit": 1, "account_id": str(account.account_id)},
                            headers=auth)).json()
    older = (await client.get("/v1/messages", params={"limit": 1, "before": one["next_before"]}, headers=auth)).json()
    assert [m["event_id"] for m in one["items"] + older["items"]] == [str(second.event_id), str(first.event_id)]


async def test_ntf_04_delivery_log_needs_a_token(client):
    response = await client.get("/v1/messages")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    response = await client.get("/v1/messages", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


async def test_ntf_04_delivery_log_of_another_account_is_refused(client, bearer):
    response = await client.get("/v1/messages", params={"account_id": str(uuid.uuid4())},
                                headers=bearer(uuid.uuid4()))
    assert response.status_code == 403
    assert response.json()["code"] == "not_your_messages"


async def test_x_04_health_and_metrics(harness, client, events):
    account = events.registered("fr")
    await harness.feed(account, events.new_location(account.account_id))
    await harness.worker.deliver_due()
    assert (await client.get("/healthz")).json()["service"] == "notifications"
    metrics = (await client.get("/metrics")).text
    assert 'notifications_messages_total{channel="email",status="sent"}' in metrics
    assert 'notifications_delivery_seconds_count{channel="email"}' in metrics


async def _all_sent(harness):
    found = await harness.messages()
    return found and all(m.status == SENT for m in found)
