"""Topic provisioning at start-up.

Relying on broker auto-creation races: a consumer that subscribes before the
first publish can see a topic with other partitions than the producer later
uses, and sit idle until its metadata refresh. Each service therefore creates
the topics it produces and consumes (and their dead-letter topics) before it
starts, with an explicit partition count; existing topics are left alone.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, topics: Iterable[str], *, partitions: int, replication: int,
                        config: dict[str, str] | None = None) -> None:
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=replication,
                                                    topic_configs=config or {})
                                           for t in missing])
            except TopicAlreadyExistsError:
                pass  # another replica was quicker
            log.info("created topics %s (%d partitions)", ", ".join(missing), partitions)
    except KafkaError as exc:  # e.g. no permission: the operators provision topics
        log.warning("could not ensure topics (%s); relying on existing ones", type(exc).__name__)
    finally:
        await admin.close()
