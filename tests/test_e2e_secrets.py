"""X-06 / IDN-16 end to end: after a password reset by e-mail, an SMS code,
a login e-mail change and an invitation, the mails and the SMS carry their
codes, while an outside subscriber reading every topic (values and headers)
and a dump of every service's PostgreSQL tables find none of them in clear."""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import create_async_engine

from manager_shared.testing.polling import eventually

pytestmark = pytest.mark.e2e

PASSWORD = "Lavaux-Terrasse-Chasselas-5"



def _mail_code(catcher, to: str, pattern: str) -> str:
    def found():
        for m in list(catcher.messages):
            if to in str(m.get("to")) and (match := re.search(pattern, m["text"])):
                return match.group(1)
    return eventually(found)


async def _every_record(bootstrap: str) -> list[bytes]:
    """Values and header values of every record of every topic, read to the end."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                              enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition(t, p) for t in await reader.topics()
                      for p in (reader.partitions_for_topic(t) or ())]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        seen: list[bytes] = []
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "topics not read to their end in 30 s"
            for records in (await reader.getmany(timeout_ms=500)).values():
                for r in records:
                    seen += [r.value or b"", r.key or b""] + [v for _, v in r.headers]
        assert sum(ends.values()) > 0 and len(seen) >= sum(ends.values())
        return seen
    finally:
        await reader.stop()


async def _dump(urls: dict[str, str]) -> list[str]:
    values: list[str] = []
    for url in urls.values():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
                for name in names:
                    for row in (await conn.execute(sa.text(f'SELECT * FROM "{name}"'))).all():
                        values += [str(v) for v in row if isinstance(v, (str, bytes))]
        finally:
            await engine.dispose()
    return values


def _in_clear(secrets: list[str], values) -> list[str]:
    return [s for s in secrets if any(re.search(rf"(?<![0-9A-Za-z_-]){re.escape(s)}(?![0-9A-Za-z_-])",
                                                v.decode(errors="replace") if isinstance(v, bytes) else v)
                                      for v in values)]


def test_x_06_codes_and_tokens_reach_mail_and_sms_but_no_topic_or_table(platform, mail_catcher, sms_file):
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
    organizations = httpx.Client(base_url=platform.url("organizations"), timeout=10)
    tag = uuid.uuid4().hex[:8]
    email, invitee, new_login = f"nora-{tag}@example.ch", f"paul-{tag}@example.ch", f"nora.b-{tag}@example.org"
    r = identity.post("/v1/accounts", json={"email": email, "password": PASSWORD, "first_name": "Nora",
                                            "last_name": "Blanc", "language": "en", "time_zone": "Europe/Zurich"})
    assert r.status_code == 202, r.text
    tokens = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    assert identity.post("/v1/password-reset", json={"email": email}).status_code == 202
    assert identity.post("/v1/me/2fa/sms", headers=auth, json={"phone": "+41791234567"}).status_code == 201
    assert identity.post("/v1/me/email", headers=auth, json={"current_password": PASSWORD, "new_email": new_login,
                                                            "new_email_repeat": new_login}).status_code == 202
    org = eventually(lambda: (r := organizations.post("/v1/organizations", headers=auth,
                                                      json={"name": f"Blanc {tag}", "kind": "company"})
                              ).status_code == 201 and r.json()["id"])
    r = organizations.post(f"/v1/organizations/{org}/invitations", headers=auth,
                           json={"email": invitee, "role": "collaborator"})
    assert r.status_code == 201, r.text

    # the mails and the SMS carry them
    secrets = [_mail_code(mail_catcher, email, r"Code:\s+([0-9]{6,10})"),
               _mail_code(mail_catcher, new_login, r"Code:\s+([0-9]{6,10})"),
               _mail_code(mail_catcher, invitee, r"Invitation code: (\S+)")]
    sms = eventually(lambda: sms_file.exists() and [json.loads(line) for line in sms_file.read_text().splitlines()
                                                    if "+41791234567" in line])
    secrets.append(re.search(r"\b([0-9]{6})\b", sms[-1]["text"]).group(1))
    assert len(set(secrets)) == 4

    # no topic (values, keys, headers, dead letters) holds one; the events are there, sealed
    records = asyncio.run(_every_record(platform.bootstrap))
    for event_type in ("PasswordResetRequested", "SmsCodeRequested", "LoginEmailChangeRequested", "InvitationCreated"):
        assert any(f'"type":"{event_type}"'.encode() in v and b'"ct":"' in v for v in records), event_type
    assert _in_clear(secrets, records) == []
    # nor any table, once delivered (notifications erases its copy once sent)
    eventually(lambda: _in_clear(secrets, asyncio.run(_dump(platform.database_urls))) == [])
