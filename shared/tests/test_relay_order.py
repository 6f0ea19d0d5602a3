"""X-02 / ORG-09: two relay replicas on one database publish a burst of one
organization's events to a real broker while a consumer applies them to the
access projection: the broker holds them in the recorded order (one relay
publishes at a time, under the lease) and the projection ends right."""
from __future__ import annotations

import asyncio
import random
import time
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from manager_shared.access import OrgAccessStore, org_access_table
from manager_shared.access_check import ACCESS_EVENTS, OrgAccess
from manager_shared.consumer import EventConsumer
from manager_shared.db import Database, event_tables
from manager_shared.events import MemberAdded, MemberRoleChanged, OrganizationCreated, Recipient
from manager_shared.outbox import Outbox, OutboxRelay
from manager_shared.testing.kafka import TansuBroker
from manager_shared.topics import ensure_topics

pytestmark = pytest.mark.integration

TOPIC = OrganizationCreated.topic
ROLES = ("external", "collaborator", "administrator")


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory):
    """A broker of this module's own: the shared one holds other tests' organizations."""
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu-order") / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def tables(request, tmp_path):
    url = (f"sqlite+aiosqlite:///{tmp_path}/order.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres").create_database("relayorder"))
    metadata = sa.MetaData()
    outbox, inbox = event_tables(metadata)
    access = org_access_table(metadata)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db, outbox, inbox, access
    await db.dispose()


def _burst(org: uuid.UUID, owner: uuid.UUID, members: int) -> list:
    """OrganizationCreated, then per member a MemberAdded followed by two role changes."""
    events = [OrganizationCreated(organization_id=org, name="O", kind="company", created_by=owner, currency="CHF",
                                  org_version=1)]
    for _ in range(members):
        account = uuid.uuid4()
        events.append(MemberAdded(organization_id=org, account_id=account, role=ROLES[0],
                                  org_version=len(events) + 1))
        for previous, role in zip(ROLES, ROLES[1:]):
            events.append(MemberRoleChanged(organization_id=org, account_id=account, role=role,
                                            previous_role=previous, changed_by=owner, org_version=len(events) + 1,
                                            organization_name="O", member=Recipient(account_id=account)))
    return events


def _jittery(broker: KafkaBroker):
    """Publishing with the small random delays of a real network, so two
    relays publishing at once would interleave their batches."""
    async def publish(topic, key, value, headers):
        await asyncio.sleep(random.random() * 0.004)
        return await broker.publish(value, topic, key=key, headers=headers, no_confirm=True)
    return publish


async def _first_arrivals(bootstrap: str, key: bytes, want: int, timeout: float = 60.0) -> list[str]:
    """Event ids of `key` on the topic, in partition order, first copies only."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    seen: list[str] = []
    try:
        await reader.topics()  # refreshes the metadata partitions_for_topic reads
        partitions = reader.partitions_for_topic(TOPIC) or {0}
        reader.assign([TopicPartition(TOPIC, p) for p in partitions])
        await reader.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while len(seen) < want and time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=200)).values():
                for r in records:
                    event_id = dict(r.headers)["event_id"].decode()
                    if r.key == key and event_id not in seen:
                        seen.append(event_id)
    finally:
        await reader.stop()
    return seen


async def test_x_02_two_relays_keep_one_organizations_order_and_the_projection_ends_right(tables, own_kafka):
    db, outbox_table, inbox, access_table = tables
    await ensure_topics(own_kafka.bootstrap, {TOPIC}, partitions=3, replication=1)
    org, owner = uuid.uuid4(), uuid.uuid4()
    events = _burst(org, owner, members=30)  # 91 events, versions 1..91

    store = OrgAccessStore(access_table)
    consumer_broker = KafkaBroker(own_kafka.bootstrap, log_level=10)
    consumer = EventConsumer("access", service="test", db=db, inbox=inbox, broker=consumer_broker)
    consumer.on(*ACCESS_EVENTS)(store.apply)
    consumer.subscribe(TOPIC, group_id=f"order-{uuid.uuid4().hex[:8]}", session_timeout_ms=1000,
                       heartbeat_interval_ms=300)
    replicas = [KafkaBroker(own_kafka.bootstrap, log_level=10) for _ in range(2)]
    relays = [OutboxRelay(db, outbox_table, _jittery(b), service="test", batch_size=4, idle_interval=0.01)
              for b in replicas]
    outbox = Outbox(outbox_table)
    try:
        for b in (consumer_broker, *replicas):
            await b.start()
        for i in range(0, len(events), 8):  # a burst, committed before the relays start, so both find work
            async with db.transaction() as session:
                await outbox.record(session, *events[i:i + 8])
        for relay in relays:
            relay.start()

        arrivals = await _first_arrivals(own_kafka.bootstrap, str(org).encode(), len(events))
        assert arrivals == [str(e.event_id) for e in events]  # the broker has them in the recorded order

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with db.transaction() as session:
                state = await store.load(session, org)
            if state is not None and state.version == len(events):
                break
            await asyncio.sleep(0.1)
        expected = OrgAccess(org)
        for event in events:
            expected.apply(event)
        assert state is not None and state.to_doc() == expected.to_doc()
        assert all(m.role == "administrator" for a, m in state.members.items())
    finally:
        for relay in relays:
            await relay.stop()
        for b in (consumer_broker, *replicas):
            await b.stop()
