"""Every topic Timbre uses, with explicit partitions, retention and compaction.

Topic names get the deployment's ``topic_prefix`` so test runs can share a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient, NewTopic

from kit.events.kafka import client_config

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    # Messages that fail repeatedly go to "<name>.dlq".
    dead_letter: bool = True


TENANT_EVENTS = TopicSpec("timbre.tenant.v1", 3, {"retention.ms": str(30 * DAY_MS)})
VOICE_LIFECYCLE = TopicSpec("timbre.voice.lifecycle.v1", 6, {"retention.ms": str(30 * DAY_MS)})
GENERATION_LIFECYCLE = TopicSpec("timbre.generation.lifecycle.v1", 6, {"retention.ms": str(14 * DAY_MS)})
# Long-form jobs of the tiers served by a dedicated worker pool (TIMBRE_DEDICATED_TIERS, e.g. enterprise):
# their own topic, so their own workers (TIMBRE_JOB_POOL=dedicated) scale on its lag alone.
DEDICATED_JOBS = TopicSpec("timbre.generation.dedicated.v1", 6, {"retention.ms": str(14 * DAY_MS)})
USAGE = TopicSpec("timbre.usage.v1", 6, {"retention.ms": str(90 * DAY_MS)})
# Billing's verdicts on tenants (key = tenant id): tenancy suspends and restores from them.
BILLING_EVENTS = TopicSpec("timbre.billing.v1", 3, {"retention.ms": str(30 * DAY_MS)})
# Compacted: the latest embedding per voice (tombstone on delete) so every replica rebuilds the index.
SPEAKER_INDEX = TopicSpec(
    "timbre.speaker-index.v1",
    3,
    {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": str(DAY_MS)},
    dead_letter=False,
)

ALL_TOPICS = [
    TENANT_EVENTS,
    VOICE_LIFECYCLE,
    GENERATION_LIFECYCLE,
    DEDICATED_JOBS,
    USAGE,
    BILLING_EVENTS,
    SPEAKER_INDEX,
]


def checkpoint_topic(service: str) -> TopicSpec:
    """Where a service's outbox relay records, inside its Kafka transaction, which rows it sent."""
    return TopicSpec(f"timbre.outbox-checkpoints.{service}.v1", 1, {"cleanup.policy": "compact"}, dead_letter=False)


def dead_letter_topic(spec: TopicSpec) -> TopicSpec:
    return TopicSpec(f"{spec.name}.dlq", 1, {"retention.ms": str(30 * DAY_MS)}, dead_letter=False)


def full_name(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def specs_for(services: list[str]) -> list[TopicSpec]:
    specs = list(ALL_TOPICS)
    specs += [dead_letter_topic(s) for s in ALL_TOPICS if s.dead_letter]
    specs += [checkpoint_topic(s) for s in services]
    return specs


def ensure_topics(
    bootstrap: str, specs: list[TopicSpec], prefix: str = "", timeout: float = 30.0, replication_factor: int = 1
) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    admin = AdminClient(client_config(bootstrap))
    existing = set(admin.list_topics(timeout=timeout).topics)
    new = [
        NewTopic(
            full_name(prefix, s.name),
            num_partitions=s.partitions,
            replication_factor=replication_factor,
            config=s.config,
        )
        for s in specs
        if full_name(prefix, s.name) not in existing
    ]
    if not new:
        return []
    created = []
    for name, future in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except Exception as exc:  # noqa: BLE001 - a concurrent creator may have won the race
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return created


def grow_partitions(bootstrap: str, specs: list[TopicSpec], partitions: int, prefix: str = "") -> dict[str, int]:
    """Give each topic at least `partitions` partitions (Kafka can add partitions, never remove them);
    returns {topic: new count} for those grown.

    A consumer group runs at most one consumer per partition, so a queue's partition count caps the
    workers that can share it (KEDA's Kafka scaler caps replicas there too): grow it before scaling past
    it. New partitions change which partition a key maps to, so grow in a quiet moment; jobs keep no
    order across keys, so nothing else depends on it."""
    from confluent_kafka.admin import NewPartitions

    admin = AdminClient(client_config(bootstrap))
    names = [full_name(prefix, s.name) for s in specs]
    current = {name: len(admin.list_topics(name, timeout=30).topics[name].partitions) for name in names}
    wanted = [NewPartitions(name, partitions) for name, count in current.items() if count < partitions]
    if not wanted:
        return {}
    for future in admin.create_partitions(wanted, operation_timeout=30).values():
        future.result()
    return {p.topic: partitions for p in wanted}
