"""X-05: `./manager up`'s stop waits until consumers caught up (committed
offsets at the topics' ends) before it stops the in-memory broker."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from manager_shared.testing.drain import consumer_lag, wait_until_drained
from manager_shared.testing.kafka import TansuBroker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory):
    """A broker of this module's own: lag is summed over every group and topic of the broker."""
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu-drain") / "tansu.log").start()
    yield broker
    broker.stop()


async def test_x_05_stop_waits_for_the_consumers_lag_to_reach_zero(own_kafka):
    topic, group = f"drain-{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=own_kafka.bootstrap)
    await producer.start()
    for i in range(10):
        await producer.send_and_wait(topic, str(i).encode(), key=b"k")
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=own_kafka.bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=4,
                                session_timeout_ms=1000, heartbeat_interval_ms=300)
    await consumer.start()
    try:
        read = 0
        while read < 4:
            read += sum(len(v) for v in (await consumer.getmany(timeout_ms=500, max_records=4 - read)).values())
        await consumer.commit()  # 4 of 10 applied
        assert await consumer_lag(own_kafka.bootstrap) == 6
        assert not await asyncio.to_thread(wait_until_drained, own_kafka.bootstrap, [], 1.5)
        while read < 10:
            read += sum(len(v) for v in (await consumer.getmany(timeout_ms=500)).values())
        await consumer.commit()
        assert await consumer_lag(own_kafka.bootstrap) == 0
        assert await asyncio.to_thread(wait_until_drained, own_kafka.bootstrap, [], 10.0)
    finally:
        await consumer.stop()
