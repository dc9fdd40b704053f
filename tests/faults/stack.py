"""The fault suite's own infrastructure: a private PostgreSQL and Kafka on fixed low ports (below Linux's
ephemeral range, so nothing else takes them while they are down), in a temporary folder, that the suite
may kill and restart without touching the shared local stack. S3 (moto) and stripe-mock are shared and
never faulted: the cluster writes to its own bucket.

The services run as real processes through tests/scale/cluster.py, pointed at this infrastructure."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack import infra
from devstack.processes import Paths, port_open
from devstack.stack import S3_PORT, ensure_all_topics, migrate_all
from tests.scale.cluster import Cluster, Layout

PG_PORT = int(os.environ.get("TIMBRE_FAULTS_PG_PORT", "25432"))
KAFKA_PORT = int(os.environ.get("TIMBRE_FAULTS_KAFKA_PORT", "29092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("TIMBRE_FAULTS_KAFKA_CONTROLLER_PORT", "29093"))
DATABASE = "timbre_faults"


@dataclass
class FaultInfra:
    """PostgreSQL and Kafka that belong to this suite alone."""

    paths: Paths

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://timbre@127.0.0.1:{PG_PORT}/{DATABASE}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{KAFKA_PORT}"

    def up(self) -> None:
        for port in (PG_PORT, KAFKA_PORT, KAFKA_CONTROLLER_PORT):
            # A leftover of an earlier run that did not clean up, or someone else's server: never reuse it.
            assert not port_open(port), f"port {port} is taken; the fault suite needs it for its own infra"
        self.paths.ensure()
        self.start_postgres()
        infra.ensure_database(PG_PORT, DATABASE)
        self.start_kafka()

    def start_postgres(self) -> None:
        # Durable as in production: with the dev stack's synchronous_commit=off a crash drops commits
        # already answered (a job accepted with 202 and then gone), which is the setting's loss, not ours.
        infra.postgres_up(self.paths, PG_PORT, durable=True)

    def start_kafka(self) -> None:
        infra.kafka_up(self.paths, KAFKA_PORT, KAFKA_CONTROLLER_PORT)

    def crash_postgres(self) -> None:
        infra.postgres_crash(self.paths)

    def crash_kafka(self) -> None:
        infra.kafka_crash(self.paths)

    def down(self) -> None:
        infra.kafka_crash(self.paths)  # nothing of it is kept: no need for an orderly shutdown
        infra.postgres_crash(self.paths)


class FaultStack:
    """The infrastructure plus a cluster of service processes on it; `close()` always leaves nothing running.
    S3 and stripe-mock are the shared local stack's (the `infra` fixture starts them if needed)."""

    def __init__(self, layout: Layout) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="timbre-faults-"))
        self.infra = FaultInfra(Paths(self.root))
        base = {
            **os.environ,
            "TIMBRE_DATABASE_URL": self.infra.database_url,
            "TIMBRE_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "TIMBRE_S3_ENDPOINT": f"127.0.0.1:{S3_PORT}",
            # A short speech lease and a quick sweeper, so the reservations of calls cut by a killed
            # edge lapse within the suite's drain bound (production: 300 s and 30 s).
            "TIMBRE_QUOTA_TTL_SECONDS": "120",
            "TIMBRE_QUOTA_SWEEP_SECONDS": "5",
        }
        self.cluster = Cluster(layout, base, DATABASE)
        self.cluster.prefix = "faults."  # the broker is ours alone; a fixed prefix makes the topics easy to read

    def start(self, timeout: float = 300) -> FaultStack:
        started = time.monotonic()
        self.infra.up()
        self.cluster.env["TIMBRE_TOPIC_PREFIX"] = self.cluster.prefix
        migrate_all(self.infra.database_url)
        ensure_all_topics(self.infra.kafka_bootstrap, self.cluster.prefix)
        self.cluster.start(timeout)
        print(f"\nfaults: infra and {len(self.cluster.procs)} processes ready in {time.monotonic() - started:.0f}s")
        return self

    def close(self) -> None:
        try:
            self.cluster.stop()
        finally:
            self.infra.down()
            shutil.rmtree(self.root, ignore_errors=True)
