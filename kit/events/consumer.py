"""Idempotent Kafka consumers.

For each record: decode the envelope, then in ONE PostgreSQL transaction insert the inbox mark
(consumer, event_id) and apply the handler's effect (which may stage outbox events). A redelivered
event finds its mark and is skipped. Offsets are committed only after that transaction, so a crash
redelivers and the inbox absorbs it. A record that keeps failing goes to the dead-letter topic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from sqlalchemy import Engine, MetaData
from sqlalchemy.dialects.postgresql import insert

from kit.db.tables import inbox_table
from kit.events.envelope import Event, UndecodableEvent, unpack
from kit.events.kafka import client_config
from kit.events.topics import TopicSpec, dead_letter_topic, full_name
from kit.logging import bind_context, get_logger
from kit.metrics import EVENTS_CONSUMED

log = get_logger("consumer")

# A handler is called inside the transaction. If it also has `prepare(event)`, that runs first,
# outside any transaction (for slow work such as model inference), and its result is passed on.
Handler = Callable[..., None]


class SlowHandler:
    """A handler in two steps: `prepare(payload)` (slow, outside the transaction: model inference, a
    voice build, a whole job) and `apply(conn, payload, prepared)` (inside it, with the inbox mark)."""

    def __init__(self, prepare: Callable, apply: Callable) -> None:
        self._prepare = prepare
        self._apply = apply

    def prepare(self, event: Event):
        return self._prepare(event.payload)

    def __call__(self, conn, event: Event, prepared=None) -> None:
        self._apply(conn, event.payload, prepared)


class EventConsumer:
    def __init__(
        self,
        name: str,
        topics: list[TopicSpec],
        handlers: dict[str, Handler],
        engine: Engine,
        schema: str,
        bootstrap: str,
        prefix: str = "",
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        max_poll_interval_seconds: int = 300,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handlers = handlers
        self.engine = engine
        self.inbox = inbox_table(MetaData(), schema)
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        # A handler's `prepare` runs inside the poll loop: the group must wait for the slowest one
        # (a long-form job), or it would hand the partition to another member mid-work.
        self.max_poll_interval_seconds = max_poll_interval_seconds
        self._dlq_producer: Producer | None = None
        self._dlq_names = {full_name(prefix, t.name): full_name(prefix, dead_letter_topic(t).name) for t in topics}

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                **client_config(self.bootstrap),
                "group.id": full_name(self.prefix, f"timbre.{self.name}"),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
                "max.poll.interval.ms": self.max_poll_interval_seconds * 1000,
            }
        )

    def run(self, stop: threading.Event) -> None:
        consumer = self._consumer()
        consumer.subscribe([full_name(self.prefix, t.name) for t in self.topics])
        try:
            while not stop.is_set():
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer_error", error=str(error))
                    continue
                self.process(message)
                try:
                    consumer.commit(message=message, asynchronous=False)
                except KafkaException as exc:
                    # E.g. the group rebalanced meanwhile: the record comes again and the inbox absorbs it.
                    log.warning("commit_failed", error=str(exc))
        finally:
            consumer.close()
            if self._dlq_producer is not None:
                self._dlq_producer.flush(10)

    # --- one record ----------------------------------------------------------------------------

    def process(self, message: Message) -> str:
        """Apply one record; returns the outcome: applied, duplicate, ignored or dead_lettered."""
        try:
            event = unpack(message.value() or b"")
        except UndecodableEvent as exc:
            self._dead_letter(message, f"undecodable: {exc}", attempts=0)
            EVENTS_CONSUMED.labels(self.name, "undecodable", "dead_lettered").inc()
            return "dead_lettered"
        handler = self.handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self.name, event.type, "ignored").inc()
            return "ignored"
        with bind_context(
            trace_id=event.envelope.trace_id, event_id=event.event_id, tenant_id=event.envelope.tenant_id
        ):
            for attempt in range(1, self.max_attempts + 1):
                try:
                    outcome = self.apply(event, handler)
                    EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
                    return outcome
                except Exception as exc:  # noqa: BLE001 - retried, then dead-lettered
                    log.warning("handler_failed", event_type=event.type, attempt=attempt, error=str(exc))
                    if attempt == self.max_attempts:
                        self._dead_letter(message, repr(exc), attempts=attempt)
                        EVENTS_CONSUMED.labels(self.name, event.type, "dead_lettered").inc()
                        return "dead_lettered"
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def apply(self, event: Event, handler: Handler) -> str:
        prepare = getattr(handler, "prepare", None)
        prepared = None
        if prepare:
            with self.engine.connect() as conn:  # skip slow preparation for a known duplicate
                seen = conn.execute(
                    self.inbox.select().where(
                        self.inbox.c.consumer == self.name, self.inbox.c.event_id == event.event_id
                    )
                ).first()
            if seen is not None:
                return "duplicate"
            prepared = prepare(event)
        with self.engine.begin() as conn:
            marked = conn.execute(
                insert(self.inbox)
                .values(consumer=self.name, event_id=event.event_id)
                .on_conflict_do_nothing()
                .returning(self.inbox.c.event_id)
            ).first()
            if marked is None:
                return "duplicate"
            if prepare:
                handler(conn, event, prepared)
            else:
                handler(conn, event)
        return "applied"

    def _dead_letter(self, message: Message, error: str, attempts: int) -> None:
        if self._dlq_producer is None:
            self._dlq_producer = Producer(client_config(self.bootstrap, enable_idempotence=True))
        source = message.topic() or ""
        topic = self._dlq_names.get(source, f"{source}.dlq")
        headers: list[tuple[str, str | bytes | None]] = [(str(h[0]), h[1]) for h in message.headers() or []] + [
            ("dlq-error", error[:1000].encode()),
            ("dlq-consumer", self.name.encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-source", f"{message.topic()}/{message.partition()}/{message.offset()}".encode()),
        ]
        self._dlq_producer.produce(topic, key=message.key(), value=message.value(), headers=headers)
        self._dlq_producer.flush(10)
        log.error("dead_lettered", topic=topic, error=error, attempts=attempts)
