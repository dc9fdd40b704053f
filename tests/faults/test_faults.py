"""Faults on the real stack under load (issue #18): Kafka and PostgreSQL killed and restarted, a synthesis
worker, an embedding replica, a synthesis edge (it runs an outbox relay) and the billing process (it
runs the usage consumer) SIGKILLed and restarted, each at a random moment of a load of short jobs from
several tenants, streamed and unary speech and enrollments, all through the gateway.

Afterwards: every accepted job final exactly once, one generation and one usage event per completed
job, usage totals equal to the work done, no quota reservation held, every voice decided, and every
client either served or told clearly (503 + Retry-After, a broken-off stream), never left hanging or
handed a half file as a whole one. The fault table (jobs in flight, lost, duplicated, recovery time per
fault) goes to stdout and to fault-table.md in the test's tmp dir.

Sizes: TIMBRE_FAULTS_JOBS (1000), _STREAMS, _UNARY, _ENROLLMENTS; TIMBRE_FAULTS_LOAD_S bounds the load
(every job must be accepted within it); TIMBRE_FAULTS_SEED repeats a run's fault order and timing.
Throughput decides how long 1000 jobs take: on two cores the workers finish about one short job
a second (2026-12-01, with the speech load), so a quick local run uses e.g. TIMBRE_FAULTS_JOBS=100.

The services run from the working tree. Faults hit only this suite's own PostgreSQL (:25432) and Kafka
(:29092/29093); S3 and stripe-mock are the shared local stack's, never faulted."""

from __future__ import annotations

import functools
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.injector import Database, Injector, speech_probe
from tests.faults.invariants import check, fault_table, wait_drained
from tests.faults.stack import FaultStack
from tests.faults.tenants import client, consent, create_tenant, enrollment_recordings, ready_voice
from tests.faults.workload import Tenant, Workload
from tests.scale.cluster import Layout

# Bounds (s): the suite stops itself; a client waiting longer than CLIENT_TIMEOUT counts as a hang.
LOAD_S = float(os.environ.get("TIMBRE_FAULTS_LOAD_S", "600"))
RECOVERY_S = 180.0
DRAIN_S = float(os.environ.get("TIMBRE_FAULTS_DRAIN_S", "480"))
CLIENT_TIMEOUT = 60.0

pytestmark = [pytest.mark.faults, pytest.mark.timeout(int(LOAD_S + DRAIN_S + 900))]

SETUP_SPEAKERS = ["joe", "en-us+m7", "en-us+f4", "en-us+f2"]


def _layout() -> Layout:
    # Two of each role that is killed, so the other keeps serving; one gateway (it is not faulted).
    return Layout(synthesis_edges=2, synthesis_workers=2, embedding_replicas=2, gateways=1)


def test_no_job_lost_or_billed_twice_and_clients_told_clearly_through_faults(infra, fault_sizes, fault_seed, tmp_path):
    rng = random.Random(fault_seed)
    stack = FaultStack(_layout())
    db = None
    try:
        stack.start()
        cluster = stack.cluster
        db = Database(cluster.database_url)
        tiers = [
            ("enterprise", "Faults jobs A"),
            ("enterprise", "Faults jobs B"),
            ("pro", "Faults speech"),
            ("pro", "Faults cut streams"),
        ]
        made = [create_tenant(cluster, tier, name) for tier, name in tiers]
        started = time.monotonic()

        def voice_of(i: int) -> str:
            return ready_voice(cluster, client(cluster, made[i][1], 120), SETUP_SPEAKERS[i], tiers[i][1])

        with ThreadPoolExecutor(len(tiers)) as pool:
            voice_ids = list(pool.map(voice_of, range(len(tiers))))
        print(f"faults: {len(tiers)} tenants with a ready voice each in {time.monotonic() - started:.0f}s")
        tenants = [
            Tenant(tid, vid, functools.partial(client, cluster, key, CLIENT_TIMEOUT))
            for (tid, key), vid in zip(made, voice_ids, strict=True)
        ]
        load_started = time.monotonic()
        workload = Workload(
            jobs_tenants=tenants[:2],
            speech_tenants=[tenants[2]],
            cut_tenant=tenants[3],
            enroll_tenant=tenants[0],
            recordings=enrollment_recordings(fault_sizes.enrollments),
            sizes=fault_sizes,
            grant_consent=lambda voice_id, owner: consent(cluster, voice_id, owner),
            deadline=load_started + LOAD_S,
        )
        load = threading.Thread(target=workload.run, name="fault-load")
        load.start()
        probe = speech_probe(client(cluster, made[2][1], CLIENT_TIMEOUT), voice_ids[2], workload.record)
        injector = Injector(stack, db, probe, workload.streams_under_way, rng, RECOVERY_S)
        try:
            injector.run(load.is_alive, workload.calls_in_flight)
        finally:
            workload.faults_over.set()
        load.join(max(0.0, LOAD_S - (time.monotonic() - load_started)) + CLIENT_TIMEOUT + 5)
        assert not load.is_alive(), "the load did not end within its bound"
        load_s = time.monotonic() - load_started
        voices = [*voice_ids, *workload.enrolled]
        drain_s, facts = wait_drained(db, voices, DRAIN_S)
        found = check(
            db,
            stack.infra.kafka_bootstrap,
            cluster.prefix,
            workload.accepted,
            workload.characters,
            workload.outcomes,
            voices,
            [t.tenant_id for t in tenants],
        )
        table = fault_table(injector.records, found)
        summary = (
            f"seed {fault_seed}; {len(workload.accepted)} jobs accepted of {fault_sizes.jobs} "
            f"({dict(found.job_states)}), load {load_s:.0f}s, drained {drain_s:.0f}s after it ({facts}); "
            f"client outcomes {dict(found.outcomes)}; {len(workload.enrolled)} enrollments"
        )
        report = f"{table}\n\n{summary}\n"
        print(f"\n{report}")
        (tmp_path / "fault-table.md").write_text(report)
        print(f"faults: table written to {tmp_path / 'fault-table.md'}")

        assert not workload.errors, workload.errors
        assert len(workload.accepted) == fault_sizes.jobs, "every job was accepted before the load's deadline"
        assert facts is not None and not any(facts.values()), f"not drained within {DRAIN_S:.0f}s: {facts}"
        assert all(r.recovery_s is not None for r in injector.records), table
        broken = found.broken()
        assert not broken, json.dumps(broken, indent=1, default=str)
        cut = [o for o in workload.outcomes if o.kind == "long stream" and o.verdict == "cut"]
        assert cut, "no stream was under way on the killed edge: the stream-cut case went untested"
    except BaseException:
        print(stack.cluster.logs())
        raise
    finally:
        if db is not None:
            db.close()
        stack.close()
