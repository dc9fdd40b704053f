"""Reading back what landed in a topic, for assertions."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from kit.events.kafka import client_config


def read_all(
    topic: str,
    bootstrap: str,
    isolation: str = "read_committed",
    expect: int | None = None,
    quiet_seconds: float = 2.0,
    timeout: float = 60.0,
) -> list:
    """Every record of `topic` from the beginning, once no new record arrived for quiet_seconds."""
    consumer = Consumer(
        {
            **client_config(bootstrap),
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        consumer.assign(partitions)
        records, last_new, started = [], time.monotonic(), time.monotonic()
        while time.monotonic() - started < timeout:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                records.append(message)
                last_new = time.monotonic()
                continue
            if time.monotonic() - last_new > quiet_seconds and (expect is None or len(records) >= expect):
                break
        return records
    finally:
        consumer.close()
