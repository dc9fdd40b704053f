"""Consumer lag (messages not yet processed by a group) as a gauge: the queue depth of a worker pool."""

from __future__ import annotations

import threading

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import Gauge

from kit.events.kafka import client_config
from kit.events.topics import TopicSpec, full_name
from kit.logging import get_logger

log = get_logger("lag")


class LagMonitor:
    name = "lag-monitor"

    def __init__(
        self,
        gauge: Gauge,
        queue_name: str,
        group: str,
        topic: TopicSpec,
        bootstrap: str,
        prefix: str = "",
        interval_seconds: float = 5.0,
    ) -> None:
        self.gauge = gauge.labels(queue_name)
        self.group = full_name(prefix, f"timbre.{group}")
        self.topic = full_name(prefix, topic.name)
        self.partitions = topic.partitions
        self.bootstrap = bootstrap
        self.interval = interval_seconds

    def lag(self, consumer: Consumer) -> int:
        partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        total = 0
        for committed in consumer.committed(partitions, timeout=5):
            low, high = consumer.get_watermark_offsets(committed, timeout=5)
            position = committed.offset if committed.offset >= 0 else low
            total += max(high - position, 0)
        return total

    def run(self, stop: threading.Event) -> None:
        # Reads the group's committed offsets without joining the group.
        consumer = Consumer({**client_config(self.bootstrap), "group.id": self.group, "enable.auto.commit": False})
        try:
            while not stop.wait(self.interval):
                try:
                    self.gauge.set(self.lag(consumer))
                except Exception as exc:  # noqa: BLE001 - a metric must never take the service down
                    log.warning("lag_unavailable", topic=self.topic, error=str(exc))
        finally:
            consumer.close()
