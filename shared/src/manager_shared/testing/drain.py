"""Let the platform's consumers catch up before the embedded broker stops
(`./manager up`'s stop): its topics and offsets live only in memory, so
whatever is still in an outbox or unread in a topic when it stops would
only arrive after the next start's replay (X-05)."""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

BACKLOG = re.compile(r'^outbox_backlog\{[^}]*\} ([0-9.e+]+)$', re.M)


def outbox_backlog(urls: Iterable[str]) -> float:
    """Unpublished outbox rows over the services' /metrics (a service that does not answer counts as 0)."""
    total = 0.0
    for url in urls:
        try:
            total += sum(float(v) for v in BACKLOG.findall(httpx.get(f"{url}/metrics", timeout=2.0).text))
        except httpx.HTTPError:
            pass
    return total


async def consumer_lag(bootstrap: str) -> int:
    """Records not yet committed by the consumer groups, over the topics each group has read from."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        groups = [g for g, _ in await admin.list_consumer_groups()]
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()
    lag = 0
    for group in groups:
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await reader.start()  # joins nothing: only reads the group's committed offsets
        try:
            await reader.topics()  # fills the metadata partitions_for_topic reads
            for topic in topics:
                partitions = [TopicPartition(topic, p) for p in (reader.partitions_for_topic(topic) or {0})]
                committed = {tp: await reader.committed(tp) or 0 for tp in partitions}
                if not any(committed.values()):
                    continue  # this group does not read this topic
                ends = await reader.end_offsets(partitions)
                lag += sum(max(ends[tp] - committed[tp], 0) for tp in partitions)
        finally:
            await reader.stop()
    return lag


def wait_until_drained(bootstrap: str, service_urls: Iterable[str], timeout: float = 20.0) -> bool:
    """Until every outbox is published and every group has committed what it
    read (twice in a row, as gauges lag a little), or `timeout`; True if drained."""
    urls = list(service_urls)
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        try:
            drained = outbox_backlog(urls) == 0 and asyncio.run(consumer_lag(bootstrap)) == 0
        except Exception:  # the broker itself may be gone: nothing to wait for
            return False
        quiet = quiet + 1 if drained else 0
        if quiet >= 2:
            return True
        time.sleep(0.5)
    return False
