"""BIL-03 (card side): the provider's webhook is accepted only signed with
the secret (HMAC-SHA256 over "timestamp.body"), within 5 minutes, once."""
from __future__ import annotations

import json
from datetime import timedelta

from billing.payments.local_card import SIGNATURE_HEADER

from .conftest import SECRET

URL = "/v1/payments/webhooks/local"


async def pending_top_up(world):
    org, owner = await world.organization()
    r = await world.top_up(org, owner, 6_000, token="tok_3ds")
    payment_id = r.json()["action_url"].rsplit("/", 1)[1]
    return org, owner, payment_id


async def test_bil_03_signed_webhook_applies_once_and_a_replay_is_refused(world):
    org, owner, payment_id = await pending_top_up(world)
    provider = world.app.state.webhooks.provider
    headers, body = provider.webhook("charge.succeeded", payment_id, world.clock.now())
    r = await world.c.post(URL, content=body, headers=headers)
    assert (r.status_code, r.json()) == (200, {"status": "applied"})
    r = await world.c.post(URL, content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (409, "webhook_replayed")
    # a new webhook about the same payment (the PSP re-sent the fact) changes nothing
    headers, body = provider.webhook("charge.succeeded", payment_id, world.clock.now())
    assert (await world.c.post(URL, content=body, headers=headers)).status_code == 200
    assert await world.balance(org, owner) == 6_000 and len(await world.events("PrepaidTopUpCredited")) == 1


async def test_bil_03_bad_signature_time_or_body_is_refused(world):
    org, owner, payment_id = await pending_top_up(world)
    provider = world.app.state.webhooks.provider
    now = world.clock.now()
    headers, body = provider.webhook("charge.succeeded", payment_id, now)
    tampered = body.replace(b"charge.succeeded", b"charge.failed")
    cases = [({}, body, "webhook_signature_missing"),
             ({SIGNATURE_HEADER: "t=abc,v1=00"}, body, "webhook_signature_missing"),
             (headers, tampered, "webhook_signature_invalid"),
             ({SIGNATURE_HEADER: headers[SIGNATURE_HEADER].replace("v1=", "v1=0")}, body,
              "webhook_signature_invalid")]
    for old in (now - timedelta(minutes=5, seconds=1), now + timedelta(minutes=5, seconds=1)):
        stale_headers, stale_body = provider.webhook("charge.succeeded", payment_id, old)
        cases.append((stale_headers, stale_body, "webhook_timestamp_out_of_tolerance"))
    not_json = b"not json"
    cases.append(({SIGNATURE_HEADER: provider.signature(not_json, int(now.timestamp()))}, not_json,
                  "webhook_malformed"))
    unknown_kind = json.dumps({"id": "evt_1", "type": "charge.refunded", "ref": payment_id}).encode()
    cases.append(({SIGNATURE_HEADER: provider.signature(unknown_kind, int(now.timestamp()))}, unknown_kind,
                  "webhook_malformed"))
    for h, b, code in cases:
        r = await world.c.post(URL, content=b, headers=h)
        assert (r.status_code, r.json()["code"]) == (400, code), code
    r = await world.c.post("/v1/payments/webhooks/stripe", content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (404, "payment_provider_not_found")
    # one just within the tolerance is taken
    edge_headers, edge_body = provider.webhook("charge.succeeded", payment_id, now - timedelta(minutes=5))
    assert (await world.c.post(URL, content=edge_body, headers=edge_headers)).json() == {"status": "applied"}
    assert await world.balance(org, owner) == 6_000


async def test_bil_03_the_secret_is_the_setting(world):
    """A webhook signed with another secret is refused; the configured one is used."""
    from billing.payments.local_card import LocalCardProvider

    org, owner, payment_id = await pending_top_up(world)
    forged = LocalCardProvider("another-secret")
    headers, body = forged.webhook("charge.succeeded", payment_id, world.clock.now())
    r = await world.c.post(URL, content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (400, "webhook_signature_invalid")
    genuine = LocalCardProvider(SECRET)
    headers, body = genuine.webhook("charge.succeeded", payment_id, world.clock.now())
    assert (await world.c.post(URL, content=body, headers=headers)).json() == {"status": "applied"}


async def test_bil_03_webhook_about_nothing_known_is_acknowledged(world):
    provider = world.app.state.webhooks.provider
    headers, body = provider.webhook("charge.succeeded", "lch_unknown", world.clock.now())
    assert (await world.c.post(URL, content=body, headers=headers)).json() == {"status": "unknown"}
