"""The faults, each injected at a random moment (seeded) and recovered from as a supervisor would:
the killed process or server is started again after a moment.

Recovery time: from the fault until the system serves again end to end, i.e. all of
  - a probe speech request through the gateway is answered 200 (gateway → synthesis → tenancy → PG);
  - after it, a job finishes (a worker → PG), unless no job is left to run;
  - billing has counted the probe's generation and every one before it (outbox relay → Kafka → billing).
Where a replica of the killed role is left, the system may recover before the killed process is back
(its restart time is reported as a step too).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from tests.faults.clients import Outcome, concurrency_limited, speak
from tests.faults.stack import FaultStack
from tests.scale.cluster import Proc


@dataclass
class FaultRecord:
    name: str
    target: str
    at: float  # monotonic
    jobs_in_flight: set[str]
    calls_in_flight: int
    recovery_s: float | None = None  # None: not recovered within the bound
    steps: dict[str, float] = field(default_factory=dict)  # which probe passed when (s after the fault)


class Database:
    """Short queries against the cluster's database that tolerate its being down (None then)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})

    def scalar(self, sql: str, **params) -> int | None:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        except SQLAlchemyError:
            return None

    def rows(self, sql: str, **params) -> list | None:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        except SQLAlchemyError:
            return None

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Fault:
    name: str
    target: str
    inject: Callable[[], None]
    recover: Callable[[], None]
    # Long streams are started first and the fault waits until they flow, to cut them mid-way.
    cuts_streams: bool = False


class Injector:
    def __init__(
        self,
        stack: FaultStack,
        db: Database,
        probe: Callable[[], bool],
        streams_under_way: Callable[[int], list[threading.Thread]],
        rng: random.Random,
        bound_s: float,
    ) -> None:
        self.stack, self.db, self.probe, self.rng, self.bound_s = stack, db, probe, rng, bound_s
        self.streams_under_way = streams_under_way
        self.records: list[FaultRecord] = []
        self.streams_before: dict[str, float] = {}

    def _process_fault(self, name: str, choose: Callable[[], Proc], cuts_streams: bool = False) -> Fault:
        """SIGKILL, then a supervisor's restart after 1-4 s. The victim is chosen when the fault strikes."""
        chosen: list[Proc] = []
        pause = self.rng.uniform(1.0, 4.0)

        def inject() -> None:
            chosen.append(choose())
            fault.target = chosen[0].name
            chosen[0].kill()

        def recover() -> None:
            time.sleep(pause)
            chosen[0].start().wait_ready(180)

        fault = Fault(name, "", inject, recover, cuts_streams)
        return fault

    def plan(self) -> list[Fault]:
        """Every fault once, in a random order."""
        cluster, infra, rng = self.stack.cluster, self.stack.infra, self.rng
        billing = next(p for p in cluster.procs if p.name == "billing")
        faults = [
            Fault("Kafka broker SIGKILL + restart", "kafka", infra.crash_kafka, infra.start_kafka),
            Fault(
                "PostgreSQL crash (immediate stop) + restart", "postgres", infra.crash_postgres, infra.start_postgres
            ),
            self._process_fault("synthesis worker SIGKILL", lambda: rng.choice(cluster.workers)),
            self._process_fault("embedding replica SIGKILL", lambda: rng.choice(cluster.embedding)),
            self._process_fault(
                "outbox relay SIGKILL (synthesis edge process)",
                lambda: busiest_edge(cluster.edges, self.streams_before),
                cuts_streams=True,
            ),
            self._process_fault("billing consumer SIGKILL (billing process)", lambda: billing),
        ]
        rng.shuffle(faults)
        return faults

    def run(self, workload_alive: Callable[[], bool], calls_in_flight: Callable[[], int]) -> None:
        for fault in self.plan():
            time.sleep(self.rng.uniform(3.0, 10.0))  # a random point in the load
            if not workload_alive():
                print(f"faults: every job submitted before '{fault.name}'; it strikes those still queued or running")
            streams = []
            if fault.cuts_streams:
                self.streams_before = {e.name: streams_begun(e) for e in self.stack.cluster.edges}
                streams = self.streams_under_way(LONG_STREAMS)
            in_flight = {r[0] for r in self.db.rows(WAITING_JOBS) or []}
            record = FaultRecord(fault.name, fault.target, time.monotonic(), in_flight, calls_in_flight())
            fault.inject()
            record.target = fault.target
            # The supervisor restarts it meanwhile; where a replica is left, the system may serve before.
            restart = threading.Thread(target=self._restart, args=(record, fault.recover), name=f"restart {fault.name}")
            restart.start()
            self._until_recovered(record)
            restart.join(self.bound_s)  # faults never overlap: the next waits for this one's restart
            for stream in streams:
                stream.join(self.bound_s)
            self.records.append(record)
            print(
                f"faults: {fault.name} ({record.target}): {len(in_flight)} jobs and {record.calls_in_flight} calls"
                f" in flight, recovered in {record.recovery_s if record.recovery_s is not None else 'NEVER'} s"
                f" {record.steps}"
            )

    @staticmethod
    def _restart(record: FaultRecord, recover: Callable[[], None]) -> None:
        try:
            recover()
        except Exception as error:  # noqa: BLE001 - shows as no "restarted" step and no recovery
            record.steps["restart failed"] = 0.0
            print(f"faults: restarting {record.target} failed: {error!r}")
            return
        record.steps["restarted"] = round(time.monotonic() - record.at, 1)

    def _until_recovered(self, record: FaultRecord) -> None:
        """Until a probe is served, then until that probe's usage is billed and a job finishes after it:
        both paths (Kafka, workers, billing) proven to work after the fault, not just before it."""
        served_at = None  # the database's clock when the probe was served
        generations = 0  # generations recorded by then, the probe's own included
        while (elapsed := time.monotonic() - record.at) < self.bound_s and "restart failed" not in record.steps:
            steps = record.steps
            if served_at is None:
                if self.probe():
                    served_at = self.db.scalar("SELECT now()")
                    generations = self.db.scalar("SELECT count(*) FROM synthesis.generations") or 0
                    if served_at is not None:
                        steps["probe"] = round(time.monotonic() - record.at, 1)
            else:
                if "job" not in steps and self._job_done_since(served_at):
                    steps["job"] = round(time.monotonic() - record.at, 1)
                if "billing" not in steps and (self.db.scalar(BILLED_GENERATIONS) or 0) >= generations:
                    steps["billing"] = round(time.monotonic() - record.at, 1)
                if {"job", "billing"} <= set(steps):
                    record.recovery_s = max(steps["probe"], steps["job"], steps["billing"])
                    return
            time.sleep(0.5 if elapsed < 30 else 1.0)

    def _job_done_since(self, since) -> bool:
        if since is None:
            return False
        waiting = self.db.scalar("SELECT count(*) FROM synthesis.jobs WHERE state IN ('queued', 'running')")
        if waiting == 0:
            return True  # nothing left to run: no job can show that the workers run again
        done = self.db.scalar(
            "SELECT count(*) FROM synthesis.jobs WHERE state = 'succeeded' AND updated_at > :since", since=since
        )
        return bool(done)


LONG_STREAMS = 4  # over two edges: the edge killed carries some of them


def streams_begun(edge: Proc) -> float:
    """How many streams this edge has begun to send (its first-chunk histogram's count)."""
    try:
        text = edge.metrics()
    except httpx.HTTPError:
        return 0.0
    prefix = "voice_synthesis_first_chunk_seconds_count"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def busiest_edge(edges: list[Proc], before: dict[str, float]) -> Proc:
    """The edge that began the most streams since `before`: the long streams just started lie mostly on it."""
    return max(edges, key=lambda edge: streams_begun(edge) - before.get(edge.name, 0.0))


WAITING_JOBS = "SELECT job_id FROM synthesis.jobs WHERE state IN ('queued', 'running')"
BILLED_GENERATIONS = "SELECT coalesce(sum(generations), 0) FROM billing.usage_totals"


def speech_probe(http: httpx.Client, voice_id: str, record: Callable[[Outcome], None]) -> Callable[[], bool]:
    """A short unary speech request; its answer is a client outcome like any other (and must be as clear)."""

    def probe() -> bool:
        outcome = speak(http, voice_id, "Probe.", stream=False)
        outcome.kind = "probe"
        if not concurrency_limited(outcome):
            record(outcome)
        return outcome.verdict == "ok"

    return probe
