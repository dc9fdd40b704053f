"""Idempotent Kafka consumers.

For each record: decode the envelope, then in ONE PostgreSQL transaction insert the inbox mark
(consumer, event_id) and apply the handler's effect (which may stage outbox events). A redelivered
event finds its mark and is skipped. Offsets are committed only after that transaction, so a crash
redelivers and the inbox absorbs it. A record that keeps failing goes to the dead-letter topic.

Records come in batches (`batch_size`): the quick handlers of a batch share one transaction, each
event in a savepoint of its own, and one offset commit follows — a crash anywhere redelivers the
batch and the inbox absorbs what was applied. The first event that fails ends the shared part: the
events before it commit, and it and the rest go one by one (retries, dead letters) in their order.
Handlers with a slow `prepare` always go one by one.
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
        batch_size: int = 200,
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
        self.batch_size = max(1, batch_size)
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
                messages = consumer.consume(self.batch_size, 0.5)
                records = []
                for message in messages:
                    error = message.error()
                    if error is None:
                        records.append(message)
                    elif error.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer_error", error=str(error))
                if not records:
                    continue
                self.process_batch(records)
                try:
                    # The positions after everything consume() returned: the whole batch is applied.
                    consumer.commit(asynchronous=False)
                except KafkaException as exc:
                    # E.g. the group rebalanced meanwhile: the records come again and the inbox absorbs them.
                    log.warning("commit_failed", error=str(exc))
        finally:
            consumer.close()
            if self._dlq_producer is not None:
                self._dlq_producer.flush(10)

    # --- a batch -------------------------------------------------------------------------------

    def process_batch(self, messages: list[Message]) -> list[str]:
        """Apply records in order; runs of quick handlers share one transaction. Returns the outcomes."""
        outcomes: list[str] = []
        pending: list[tuple[Message, Event, Handler]] = []
        for message in messages:
            try:
                event = unpack(message.value() or b"")
            except UndecodableEvent:
                outcomes += self._flush(pending)
                outcomes.append(self.process(message))  # dead-letters it
                continue
            handler = self.handlers.get(event.type)
            if handler is not None and not hasattr(handler, "prepare"):
                pending.append((message, event, handler))
                continue
            outcomes += self._flush(pending)
            outcomes.append(self.process(message))
        outcomes += self._flush(pending)
        return outcomes

    def _flush(self, pending: list[tuple[Message, Event, Handler]]) -> list[str]:
        """Apply `pending` in one transaction; from the first failure on, one by one. Empties `pending`."""
        if not pending:
            return []
        batch, pending[:] = list(pending), []
        outcomes: list[str] = []
        failed_at = len(batch)
        with self.engine.begin() as conn:
            for index, (_, event, handler) in enumerate(batch):
                try:
                    with conn.begin_nested():
                        outcomes.append(self._apply_on(conn, event, handler))
                except Exception as exc:  # noqa: BLE001 - the one-by-one path retries and dead-letters it
                    log.info("batch_member_failed", event_type=event.type, event_id=event.event_id, error=str(exc))
                    failed_at = index
                    break
        for (_, event, _), outcome in zip(batch, outcomes, strict=False):
            EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        return outcomes + [self.process(message) for message, _, _ in batch[failed_at:]]

    def _mark(self, conn, event: Event) -> bool:
        """The inbox mark, in the effect's transaction; False when the event was applied before."""
        marked = conn.execute(
            insert(self.inbox)
            .values(consumer=self.name, event_id=event.event_id)
            .on_conflict_do_nothing()
            .returning(self.inbox.c.event_id)
        ).first()
        return marked is not None

    def _apply_on(self, conn, event: Event, handler: Handler) -> str:
        if not self._mark(conn, event):
            return "duplicate"
        with bind_context(
            trace_id=event.envelope.trace_id, event_id=event.event_id, tenant_id=event.envelope.tenant_id
        ):
            handler(conn, event)
        return "applied"

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
            if not self._mark(conn, event):
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
