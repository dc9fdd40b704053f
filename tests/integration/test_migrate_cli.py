"""`timbre migrate`: what a deployment runs before its services (the Helm hook Job, compose's one-shot
service): every schema at head, every topic created, job queues grown on request; idempotent."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from cli.migrate import migrate
from kit.events.kafka import client_config
from kit.events.topics import ALL_TOPICS, DEDICATED_JOBS, GENERATION_LIFECYCLE, full_name

pytestmark = pytest.mark.integration


def _partitions(bootstrap: str, prefix: str) -> dict[str, int]:
    topics = AdminClient(client_config(bootstrap)).list_topics(timeout=10).topics
    return {name[len(prefix) :]: len(t.partitions) for name, t in topics.items() if name.startswith(prefix)}


def test_migrate_creates_every_topic_then_grows_the_job_queues_and_is_idempotent(infra):
    prefix = f"migrate-{secrets.token_hex(3)}."
    env = {"TIMBRE_TOPIC_PREFIX": prefix}
    first = CliRunner().invoke(migrate, [], env=env, catch_exceptions=False)
    assert first.exit_code == 0 and "5 schemas at head" in first.output, first.output
    created = _partitions(infra.kafka_bootstrap, prefix)
    assert {t.name for t in ALL_TOPICS} <= set(created)
    assert created[GENERATION_LIFECYCLE.name] == GENERATION_LIFECYCLE.partitions == 6

    grown = CliRunner().invoke(migrate, ["--job-partitions", "12"], env=env, catch_exceptions=False)
    assert grown.exit_code == 0 and "topics: 0 created" in grown.output, grown.output
    after = _partitions(infra.kafka_bootstrap, prefix)
    assert after[GENERATION_LIFECYCLE.name] == after[DEDICATED_JOBS.name] == 12
    assert {k: v for k, v in after.items() if k not in (GENERATION_LIFECYCLE.name, DEDICATED_JOBS.name)} == {
        k: v for k, v in created.items() if k not in (GENERATION_LIFECYCLE.name, DEDICATED_JOBS.name)
    }
    again = CliRunner().invoke(migrate, ["--job-partitions", "8"], env=env, catch_exceptions=False)
    assert "job queues: 8 partitions or more" in again.output and "grew" not in again.output
    assert full_name(prefix, GENERATION_LIFECYCLE.name).startswith(prefix)
