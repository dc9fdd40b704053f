"""`timbre migrate`: every service's database migrations and every Kafka topic, then exit.

What a deployment runs before it starts or upgrades the services (the Helm chart's pre-install and
pre-upgrade Job, compose's one-shot `migrate` service); the local stack does the same in `stack up`.
Idempotent: migrations already applied and topics already there are left as they are.
"""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--job-partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Grow the job queues (shared and dedicated) to at least this many partitions: the most workers "
    "each pool can run at once (docs/deploy.md).",
)
def migrate(job_partitions: int | None) -> None:
    """Migrate every schema and create the Kafka topics (deployments run it first).

    Reads TIMBRE_DATABASE_URL, TIMBRE_KAFKA_BOOTSTRAP, TIMBRE_TOPIC_PREFIX and
    TIMBRE_KAFKA_REPLICATION_FACTOR (replicas of each topic it creates)."""
    from devstack.stack import SCHEMAS, ensure_all_topics, migrate_all
    from kit.config import KitSettings

    settings = KitSettings()
    migrate_all(settings.database_url)
    click.echo(f"migrations: {len(SCHEMAS)} schemas at head ({', '.join(SCHEMAS)})")
    created = ensure_all_topics(settings.kafka_bootstrap, settings.topic_prefix, settings.kafka_replication_factor)
    click.echo(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ""))
    if job_partitions:
        from kit.events.topics import DEDICATED_JOBS, GENERATION_LIFECYCLE, grow_partitions

        grown = grow_partitions(
            settings.kafka_bootstrap, [GENERATION_LIFECYCLE, DEDICATED_JOBS], job_partitions, settings.topic_prefix
        )
        note = f" (grew {', '.join(grown)})" if grown else ""
        click.echo(f"job queues: {job_partitions} partitions or more{note}")
