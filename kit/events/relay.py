"""Outbox relay: moves committed outbox rows to Kafka exactly once.

Each batch is produced inside one Kafka transaction together with a checkpoint record (the ids of
the rows in the batch) on the service's compacted checkpoint topic. Rows are then marked sent in
PostgreSQL. A crash before the Kafka commit aborts the batch (the next producer with the same
transactional.id fences and aborts it); a crash after the commit but before the PostgreSQL update is
repaired at start-up by reading the last committed checkpoint and marking those rows sent. A
PostgreSQL advisory lock keeps one relay active per service, whatever the number of replicas.
"""

from __future__ import annotations

import json
import threading
import time
import zlib

from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import Engine, MetaData, delete, func, select, text, update

from kit.db.tables import outbox_table
from kit.events.kafka import client_config
from kit.events.topics import checkpoint_topic, full_name
from kit.faults import failpoint
from kit.logging import get_logger
from kit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG

log = get_logger("outbox_relay")


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        schema: str,
        service: str,
        bootstrap: str,
        prefix: str = "",
        batch_size: int = 200,
        poll_seconds: float = 0.2,
        retention_days: float = 7.0,
    ) -> None:
        self.name = f"outbox-relay-{service}"
        self.engine = engine
        self.table = outbox_table(MetaData(), schema)
        self.service = service
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self._next_purge = 0.0
        self.checkpoint_topic = full_name(prefix, checkpoint_topic(service).name)
        self.transactional_id = f"{prefix}timbre-outbox-{service}"
        self._lock_key = zlib.crc32(self.transactional_id.encode())

    # --- loop --------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        with self.engine.connect() as lock_conn:
            while not stop.is_set():
                locked = lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}).scalar()
                lock_conn.commit()  # the session-level lock outlives the transaction
                if locked:
                    break
                stop.wait(1.0)  # another replica relays; stand by
            if stop.is_set():
                return
            try:
                producer = self.open_producer()
                self.recover()
                while not stop.is_set():
                    if self.relay_batch(producer) == 0:
                        self._purge_when_due()
                        stop.wait(self.poll_seconds)
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key})
                lock_conn.commit()

    def open_producer(self) -> Producer:
        producer = Producer(
            {
                **client_config(self.bootstrap),
                "transactional.id": self.transactional_id,
                "enable.idempotence": True,
                "linger.ms": 5,
                "transaction.timeout.ms": 60000,
            }
        )
        # Fences any earlier producer with this id and aborts its unfinished transaction.
        producer.init_transactions(30)
        return producer

    def relay_batch(self, producer: Producer) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(self.table)
                .where(self.table.c.sent_at.is_(None))
                .order_by(self.table.c.id)
                .limit(self.batch_size)
            ).all()
        if not rows:
            return 0
        producer.begin_transaction()
        for row in rows:
            headers = [(k, v.encode()) for k, v in json.loads(row.headers or b"[]")]
            producer.produce(
                full_name(self.prefix, row.topic), key=row.key.encode(), value=row.payload, headers=headers
            )
            failpoint("relay.mid_batch")
        ids = [row.id for row in rows]
        producer.produce(self.checkpoint_topic, key=self.service.encode(), value=json.dumps(ids).encode())
        producer.commit_transaction(30)
        failpoint("relay.after_commit")
        self._mark_sent(ids)
        for row in rows:
            EVENTS_PUBLISHED.labels(self.service, row.topic).inc()
        OUTBOX_BACKLOG.labels(self.service).observe(len(rows))
        return len(rows)

    def _mark_sent(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(self.table)
                .where(self.table.c.id.in_(ids), self.table.c.sent_at.is_(None))
                .values(sent_at=func.now())
            )

    # --- retention ---------------------------------------------------------------------------

    PURGE_EVERY_SECONDS = 600.0
    PURGE_BATCH = 5000

    def _purge_when_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_purge:
            self._next_purge = now + self.PURGE_EVERY_SECONDS
            self.purge_sent()

    def purge_sent(self) -> int:
        """Delete rows sent more than retention_days ago, a batch per transaction (short locks): Kafka
        holds them now, and the table would otherwise grow by every event the service ever wrote.
        Unsent rows are never touched. Returns how many went."""
        if self.retention_days <= 0:
            return 0
        cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, self.retention_days * 86400)
        removed = 0
        while True:
            oldest = (
                select(self.table.c.id)
                .where(self.table.c.sent_at.is_not(None), self.table.c.sent_at < cutoff)
                .order_by(self.table.c.id)
                .limit(self.PURGE_BATCH)
            )
            with self.engine.begin() as conn:
                count = conn.execute(delete(self.table).where(self.table.c.id.in_(oldest.scalar_subquery()))).rowcount
            removed += count
            if count < self.PURGE_BATCH:
                break
        if removed:
            log.info("outbox_purged", rows=removed, retention_days=self.retention_days)
        return removed

    # --- recovery ----------------------------------------------------------------------------

    def recover(self, window: int = 1000, timeout: float = 15.0) -> list[int]:
        """Mark sent the rows of the last committed batch (a crash may have hit before marking)."""
        ids = self.last_checkpoint(window, timeout)
        if ids:
            self._mark_sent(ids)
            log.info("relay_recovered", rows=len(ids))
        return ids

    def last_checkpoint(self, window: int = 1000, timeout: float = 15.0) -> list[int]:
        consumer = Consumer(
            {
                **client_config(self.bootstrap),
                "group.id": f"{self.transactional_id}-recovery",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            partition = TopicPartition(self.checkpoint_topic, 0)
            low, high = consumer.get_watermark_offsets(partition, timeout=timeout)
            if high <= low:
                return []
            partition.offset = max(low, high - window)
            consumer.assign([partition])
            last: list[int] = []
            empty_polls = 0
            while empty_polls < 3:
                message = consumer.poll(0.5)
                if message is None:
                    empty_polls += 1
                    position = consumer.position([TopicPartition(self.checkpoint_topic, 0)])[0].offset
                    if position >= high:
                        break
                    continue
                if message.error():
                    continue
                empty_polls = 0
                value = message.value()
                if message.key() == self.service.encode() and value:
                    last = json.loads(value)
                if (message.offset() or 0) + 1 >= high:
                    break
            return last
        finally:
            consumer.close()
