"""The HTTP SMS gateway adapter against a real local HTTP server (NTF-03):
what it sends, connection reuse, and how answers sort into sent / retry /
dead without ever carrying the code into an error or a log."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from manager_shared.events import SmsCodeRequested
from manager_shared.testing.ports import free_port
from manager_shared.testing.sealing import sealed_bytes
from notifications.main import create_app, MIGRATIONS
from notifications.models import DEAD, FAILED, SENT
from notifications.sms import HttpSmsGateway, Sms


class FakeProvider:
    """A real HTTP server playing an SMS provider; `answers` are popped per request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.peers: set = set()
        self.answers: list[tuple[int, dict]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so reuse is visible

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                provider.peers.add(self.client_address)
                status, answer = provider.answers.pop(0) if provider.answers else (200, {"id": "sms-1"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    server = FakeProvider()
    yield server
    server.stop()


def _sms(n: int = 1) -> Sms:
    return Sms(to="+41791234567", text=f"Your Manager sign-in code: 48291{n}", reference=f"ref-{n}")


async def test_ntf_03_http_gateway_posts_json_with_token_and_reuses_the_connection(provider):
    gateway = HttpSmsGateway(provider.url, "s3cret-token", "Manager", timeout=5)
    try:
        outcomes = [await gateway.send(_sms(n)) for n in range(3)]
    finally:
        await gateway.aclose()
    assert [o.status for o in outcomes] == ["sent"] * 3
    first = provider.requests[0]
    assert first["path"] == "/v1/sms"
    assert first["body"] == {"to": "+41791234567", "from": "Manager", "text": "Your Manager sign-in code: 482910",
                             "reference": "ref-0"}
    assert first["headers"]["Authorization"] == "Bearer s3cret-token"
    assert first["headers"]["Idempotency-Key"] == "ref-0"
    assert len(provider.peers) == 1  # one connection for the three


@pytest.mark.parametrize(("status", "answer", "expected"), [
    (503, {"error": "unavailable"}, "retry"),
    (429, {"error": "rate_limited"}, "retry"),
    (401, {"error": "bad_token"}, "retry"),  # our credentials: fixable, the message is fine
    (400, {"error": "invalid_number", "detail": "cannot send 'Your Manager sign-in code: 482911'"}, "dead"),
    (422, {"detail": "Your Manager sign-in code: 482911 is not deliverable"}, "dead"),
])
async def test_ntf_04_gateway_answers_sorted_and_the_code_never_in_the_error(provider, caplog, status, answer,
                                                                            expected):
    caplog.set_level(logging.DEBUG)
    provider.answers.append((status, answer))
    gateway = HttpSmsGateway(provider.url, None, "Manager", timeout=5)
    try:
        outcome = await gateway.send(_sms(1))
    finally:
        await gateway.aclose()
    assert outcome.status == expected
    assert outcome.error.startswith(f"HTTP {status} ")
    assert "482911" not in outcome.error and "482911" not in caplog.text
    if answer.get("error"):
        assert f"({answer['error']})" in outcome.error


async def test_ntf_04_gateway_unreachable_is_retried():
    gateway = HttpSmsGateway(f"http://127.0.0.1:{free_port()}/v1/sms", None, "Manager", timeout=2)
    try:
        outcome = await gateway.send(_sms())
    finally:
        await gateway.aclose()
    assert outcome.status == "retry" and "unreachable" in outcome.error


async def test_idn_14_sms_code_event_delivered_through_the_http_gateway(provider, settings_for, sqlite_url, events,
                                                                       eventually, caplog):
    """From the event to the provider's server, with a retry after a 503."""
    from manager_shared.db import migrate

    caplog.set_level(logging.DEBUG)
    app = create_app(settings_for(sqlite_url, sms_gateway="http", sms_http_url=provider.url,
                                  sms_http_token="tok", sms_sender="MANAGER"))
    await migrate(app.state.runtime.db, MIGRATIONS)
    state = app.state
    try:
        account = events.registered("de")
        sms = events.sample(SmsCodeRequested, account.account_id, purpose="password_reset")
        for event in (account, sms):
            await state.consumer.handle_raw(event.topic, sealed_bytes(event))  # the code sealed
        provider.answers.append((503, {"error": "unavailable"}))
        await state.delivery.deliver_due()
        [row] = await _rows(state)
        assert (row.status, row.last_error) == (FAILED, "HTTP 503 Service Unavailable (unavailable)")

        async def sent():
            await state.delivery.deliver_due()
            rows = await _rows(state)
            return rows if rows[0].status == SENT else None

        await eventually(sent)
        assert len(provider.requests) == 2
        body = provider.requests[-1]["body"]
        assert body["from"] == "MANAGER" and body["to"] == "+41791234567"
        assert body["text"].startswith("Ihr Code zum Zurücksetzen des Manager-Passworts: 482913")
        # the same reference both times: a provider deduplicating on it sends once
        assert provider.requests[0]["headers"]["Idempotency-Key"] == provider.requests[1]["headers"]["Idempotency-Key"]
        assert "482913" not in caplog.text
    finally:
        await state.delivery.stop()
        await state.runtime.db.dispose()


async def test_ntf_04_sms_refused_by_the_provider_is_dead_lettered(provider, harness, events):
    from notifications.sms import HttpSmsGateway as Gateway, SmsTransport

    published = []

    async def publish(body, topic, key, headers):
        published.append((topic, json.loads(body)))

    harness.worker.publish = publish
    harness.worker.transports["sms"] = SmsTransport(Gateway(provider.url, None, "Manager", timeout=5))
    provider.answers.append((400, {"error": "invalid_number"}))
    account = events.registered("en")
    await harness.feed(account, events.sample(SmsCodeRequested, account.account_id))
    await harness.worker.deliver_due()
    [row] = await harness.messages()
    assert row.status == DEAD and row.last_error == "HTTP 400 Bad Request (invalid_number)"
    [(topic, record)] = published
    assert topic == "notifications.message.dlq" and record["channel"] == "sms"
    assert "482913" not in json.dumps(record)
    await harness.worker.transports["sms"].aclose()


async def _rows(state):
    import sqlalchemy as sa

    from notifications.models import Message

    async with state.runtime.db.transaction() as session:
        return list((await session.execute(sa.select(Message).order_by(Message.id))).scalars())
