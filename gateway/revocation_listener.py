"""Feeds the credential cache the events that make a cached credential wrong, and vouches for it.

Every gateway process must see every such event, so this consumer joins no group: it assigns itself
every partition of the tenant and billing topics, starting at their end offsets when it starts (the
cache starts empty, so nothing older matters), and commits nothing. Once a `heartbeat_seconds` it asks
the broker for the partitions' end offsets; when its own position has reached the end offsets it saw
at the previous heartbeat, every event published before that heartbeat has been applied, and it tells
the cache so. The cache serves entries only while that confirmation is recent
(`listener_stale_seconds`), so a dead broker or a stuck listener turns the cache off by itself.

Given a job-status cache (gateway/job_status_cache.py), the same consumer also reads the generation
lifecycle topic, evicts a job on each of its events, and vouches for that cache the same way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, Message, TopicPartition

from gateway.credential_cache import CredentialCache
from gateway.job_status_cache import JobStatusCache
from kit.events.envelope import UndecodableEvent, unpack
from kit.events.kafka import client_config
from kit.events.topics import BILLING_EVENTS, GENERATION_LIFECYCLE, TENANT_EVENTS, full_name
from kit.logging import get_logger
from timbre.v1 import events_pb2

log = get_logger("gateway_credentials")

REVOKED = events_pb2.ApiKeyRevoked.DESCRIPTOR.full_name
TIER_CHANGED = events_pb2.TenantTierChanged.DESCRIPTOR.full_name
BILLING_CHANGED = events_pb2.TenantBillingStateChanged.DESCRIPTOR.full_name
WANTED = frozenset({REVOKED, TIER_CHANGED, BILLING_CHANGED})
# What changes a job's status. Jobs' requests go to the shared or the dedicated queue topic, but every
# later event of a job, whatever its queue, is published on the lifecycle topic.
_JOB_EVENTS = (
    events_pb2.GenerationStarted,
    events_pb2.GenerationProgress,
    events_pb2.GenerationCompleted,
    events_pb2.GenerationFailed,
)
JOB_CHANGED = frozenset(message.DESCRIPTOR.full_name for message in _JOB_EVENTS)


def apply_event(
    cache: CredentialCache | None,
    value: bytes | None,
    event_type: str | None = None,
    jobs: JobStatusCache | None = None,
) -> str | None:
    """Evict what one record's event makes wrong; the event's type when it was one that matters."""
    if value is None or (event_type is not None and event_type not in WANTED and event_type not in JOB_CHANGED):
        return None  # the header names the type: most records need no decoding at all
    try:
        event = unpack(value)
    except UndecodableEvent:
        return None
    payload = event.payload
    if isinstance(payload, _JOB_EVENTS):
        if jobs is None or not payload.job_id:
            return None  # unary and streamed generations have no job
        jobs.evict(payload.tenant_id, payload.job_id)
        return event.type
    if cache is None:
        return None
    if isinstance(payload, events_pb2.ApiKeyRevoked):
        cache.revoke_key(payload.key_id)
    elif isinstance(payload, events_pb2.TenantTierChanged):
        cache.forget_tenant(payload.tenant_id)
    elif isinstance(payload, events_pb2.TenantBillingStateChanged):
        # Tenancy applies the verdict from the same topic a moment from now: until then it would still
        # issue tokens, so the tenant's keys stay uncached for a while (they ask tenancy every time).
        cache.forget_tenant(payload.tenant_id, hold=True)
    else:
        return None
    return event.type


class RevocationListener:
    def __init__(
        self,
        cache: CredentialCache | None,
        bootstrap: str,
        prefix: str = "",
        heartbeat_seconds: float = 0.5,
        consumer_factory: Callable[[dict], Consumer] = Consumer,
        jobs: JobStatusCache | None = None,
    ) -> None:
        self.cache = cache
        self.jobs = jobs
        self.topics = []
        if cache is not None:
            self.topics += [full_name(prefix, TENANT_EVENTS.name), full_name(prefix, BILLING_EVENTS.name)]
        if jobs is not None:
            self.topics.append(full_name(prefix, GENERATION_LIFECYCLE.name))
        self.heartbeat_seconds = heartbeat_seconds
        self._config = {
            **client_config(bootstrap),
            # librdkafka wants a group id even for a consumer that assigns itself and commits nothing.
            "group.id": f"gateway-credentials-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 50,
            # With the broker gone, retry calmly: the cache is bypassed meanwhile, nothing waits on this.
            "reconnect.backoff.ms": 500,
            "reconnect.backoff.max.ms": 5000,
        }
        self._consumer_factory = consumer_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied = 0

    def start(self) -> RevocationListener:
        self._thread = threading.Thread(target=self._run_forever, name="credential-revocations", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._lost()

    def _caches(self) -> list[CredentialCache | JobStatusCache]:
        return [c for c in (self.cache, self.jobs) if c is not None]

    def _lost(self) -> None:
        for cache in self._caches():
            cache.listener_lost()

    def _run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except Exception as error:  # noqa: BLE001 - the cache is off meanwhile; try again
                self._lost()
                log.warning("credential_listener_failed", error=str(error))
                self._stop.wait(1.0)

    def _run(self) -> None:
        consumer = self._consumer_factory(self._config)
        try:
            starts = self._assign_at_end(consumer)
            seen: tuple[list[float], dict[TopicPartition, int]] | None = None
            next_heartbeat = 0.0
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if message is not None and not message.error():
                    self._apply(message)
                if time.monotonic() >= next_heartbeat:
                    seen = self._heartbeat(consumer, starts, seen)
                    next_heartbeat = time.monotonic() + self.heartbeat_seconds
        finally:
            consumer.close()

    def _assign_at_end(self, consumer: Consumer) -> dict[TopicPartition, int]:
        starts: dict[TopicPartition, int] = {}
        for topic in self.topics:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            if not partitions:
                # Vouching for a topic that does not exist would be vouching for nothing: fail, retry later.
                raise KafkaException(f"topic {topic} has no partitions (not created yet?)")
            for partition in partitions:
                tp = TopicPartition(topic, partition)
                starts[tp] = consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1]
        consumer.assign([TopicPartition(tp.topic, tp.partition, offset) for tp, offset in starts.items()])
        return starts

    def _heartbeat(
        self,
        consumer: Consumer,
        starts: dict[TopicPartition, int],
        seen: tuple[list[float], dict[TopicPartition, int]] | None,
    ) -> tuple[list[float], dict[TopicPartition, int]] | None:
        # On each cache's own clock, which judges how recent the word is.
        asked_at = [cache.now() for cache in self._caches()]
        try:
            ends = {tp: consumer.get_watermark_offsets(tp, timeout=1, cached=False)[1] for tp in starts}
            positions = {TopicPartition(tp.topic, tp.partition): tp.offset for tp in consumer.position(list(starts))}
        except KafkaException as error:
            log.warning("credential_listener_heartbeat_failed", error=str(error))
            return None  # no confirmation: the cache lapses to bypass after listener_stale_seconds
        if seen is not None:
            seen_at, seen_ends = seen
            # Before its first record a partition's position is unknown: it is still where it was assigned.
            reached = {tp: (starts[tp] if offset == OFFSET_INVALID else offset) for tp, offset in positions.items()}
            if all(reached[tp] >= end for tp, end in seen_ends.items()):
                for cache, as_of in zip(self._caches(), seen_at, strict=True):
                    cache.listener_caught_up(as_of)
        return asked_at, ends

    def _apply(self, message: Message) -> None:
        event_type: str | None = None
        for header in message.headers() or []:
            if header[0] == "event-type" and isinstance(header[1], bytes):
                event_type = header[1].decode()
        applied = apply_event(self.cache, message.value(), event_type, self.jobs)
        if applied:
            self.applied += 1
            if applied in JOB_CHANGED:
                return  # a job's status evicted: routine, many a second, not worth a log line
            log.info("credential_evicted", event_type=applied, partition=message.partition(), offset=message.offset())
