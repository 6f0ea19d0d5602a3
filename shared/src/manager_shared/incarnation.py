"""Which broker are we talking to? Noticing a broker that lost everything (X-05).

The embedded broker of the local platform keeps topics and consumer offsets
in memory only: a restart comes back empty, on the same address, and the
producer reconnects without a word. To notice it, the first relay to reach a
broker writes a random marker as the first record of a one-partition topic;
every relay reads the record at offset 0 before each batch. Another value
than the one a service last published to (or an empty topic) means a new
broker, and the relay publishes its retained outbox again (see
`OutboxRelay`). On a durable Kafka the marker is written once and kept
(`retention.ms=-1`), so nothing is ever replayed there.
"""
from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

MARKER_TOPIC = "manager.broker-incarnation"
MARKER_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


class BrokerIncarnation:
    """Reads (and if missing, writes) the broker's incarnation marker."""

    def __init__(self, bootstrap: str, *, client_id: str = "manager-incarnation", timeout: float = 5.0) -> None:
        self.bootstrap, self.client_id, self.timeout = bootstrap, client_id, timeout
        self._consumer: AIOKafkaConsumer | None = None
        self._tp = TopicPartition(MARKER_TOPIC, 0)

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                        enable_auto_commit=False, request_timeout_ms=int(self.timeout * 1000))
            await consumer.start()  # no group: the partition is assigned by hand
            consumer.assign([self._tp])
            self._consumer = consumer
        return self._consumer

    async def current(self) -> str:
        """The marker of the broker now reachable; written first if there is none."""
        try:
            async with asyncio.timeout(self.timeout * 2):
                marker = await self._first_record()
                if marker is None:
                    await self._write(uuid.uuid4().hex)
                    marker = await self._first_record(wait=True)
        except BaseException:
            await self.close()  # a fresh connection next time (the broker may be a new one)
            raise
        if marker is None:
            raise RuntimeError("broker incarnation marker not readable")
        return marker

    async def _first_record(self, wait: bool = False) -> str | None:
        consumer = await self._reader()
        end = (await consumer.end_offsets([self._tp]))[self._tp]
        if end == 0 and not wait:
            return None
        consumer.seek(self._tp, 0)
        while True:
            batch = await consumer.getmany(self._tp, timeout_ms=200, max_records=1)
            for record in batch.get(self._tp, ()):
                return record.value.decode()
            if not wait:
                return None

    async def _write(self, marker: str) -> None:
        from .topics import ensure_topics

        await ensure_topics(self.bootstrap, {MARKER_TOPIC}, partitions=1, replication=1, config=MARKER_CONFIG)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id=self.client_id, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(MARKER_TOPIC, marker.encode(), key=b"incarnation", partition=0)
        finally:
            await producer.stop()

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception:
                pass  # closing a connection to a broker that is gone
