"""What must hold once the load and the faults are over and the system has drained: read from the
services' own tables in the suite's PostgreSQL and from the topics in its Kafka."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kit.events.envelope import unpack
from kit.events.topics import GENERATION_LIFECYCLE, USAGE, full_name
from tests.faults.clients import Outcome
from tests.faults.injector import Database, FaultRecord
from tests.faults.tenants import FINAL_VOICE_STATES
from tests.integration.kafka_helpers import read_all

FINAL_JOB_STATES = ("succeeded", "failed", "cancelled")
SCHEMAS = ("tenancy", "billing", "embedding", "watermark", "synthesis")


def drained(db: Database, voices: list[str]) -> dict[str, int] | None:
    """What is still moving (all zeros: drained); None while the database cannot answer."""
    unsent = " + ".join(f"(SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL)" for s in SCHEMAS)
    facts = {
        "jobs waiting": db.scalar(
            "SELECT count(*) FROM synthesis.jobs WHERE state <> ALL(:final)", final=list(FINAL_JOB_STATES)
        ),
        "events unsent": db.scalar(f"SELECT {unsent}"),
        "generations not billed": db.scalar(
            "SELECT (SELECT count(*) FROM synthesis.generations)"
            " - (SELECT coalesce(sum(generations), 0) FROM billing.usage_totals)"
        ),
        # A killed edge's reservations lapse after their lease (the stack runs a short one) and the
        # sweeper closes them; until then they hold the tenant's slots.
        "reservations held": db.scalar("SELECT count(*) FROM tenancy.reservations WHERE status = 'active'"),
        # Tenancy settles each generation's reservation from its UsageRecorded, so its count catches up
        # with the generated characters even when the edge died before its own commit.
        "characters not counted": db.scalar(
            "SELECT (SELECT coalesce(sum(characters), 0) FROM synthesis.generations)"
            " - (SELECT coalesce(sum(characters_used), 0) FROM tenancy.usage_periods)"
        ),
        "voices undecided": db.scalar(
            "SELECT count(*) FROM embedding.voices WHERE id = ANY(:ids) AND status <> ALL(:final)",
            ids=voices,
            final=sorted(FINAL_VOICE_STATES),
        ),
    }
    if any(v is None for v in facts.values()):
        return None
    return {name: int(v or 0) for name, v in facts.items()}


def wait_drained(db: Database, voices: list[str], timeout: float) -> tuple[float, dict[str, int] | None]:
    started = time.monotonic()
    facts = None
    while time.monotonic() - started < timeout:
        facts = drained(db, voices)
        if facts is not None and not any(facts.values()):
            return time.monotonic() - started, facts
        time.sleep(2.0)
    return time.monotonic() - started, facts


@dataclass
class Findings:
    """Each list names what broke an invariant; all empty: every invariant holds."""

    lost: set[str] = field(default_factory=set)  # accepted jobs never finished (or never stored)
    duplicated: set[str] = field(default_factory=set)  # jobs with two generations / completions / usage events
    usage_mismatch: list[str] = field(default_factory=list)
    held_reservations: list[str] = field(default_factory=list)
    undecided_voices: list[str] = field(default_factory=list)
    unclear_calls: list[Outcome] = field(default_factory=list)
    half_files: list[Outcome] = field(default_factory=list)  # a stream that ended cleanly, never completed
    job_states: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)

    def broken(self) -> dict[str, object]:
        return {
            name: value
            for name, value in {
                "lost jobs": sorted(self.lost)[:20],
                "duplicated jobs": sorted(self.duplicated)[:20],
                "usage mismatches": self.usage_mismatch[:20],
                "held reservations": self.held_reservations[:20],
                "undecided voices": self.undecided_voices,
                "unclear client outcomes": [vars(o) for o in self.unclear_calls[:20]],
                "half files presented as complete": [vars(o) for o in self.half_files[:20]],
            }.items()
            if value
        }


def _events(bootstrap: str, prefix: str, topic: str) -> list:
    return [unpack(r.value()) for r in read_all(full_name(prefix, topic), bootstrap, timeout=180)]


def check(
    db: Database,
    bootstrap: str,
    prefix: str,
    accepted: dict[str, str],
    characters: dict[str, int],
    outcomes: list[Outcome],
    voices: list[str],
    tenants: list[str],
) -> Findings:
    found = Findings()
    jobs = {r.job_id: r for r in db.rows("SELECT job_id, state, characters, tenant_id FROM synthesis.jobs") or []}
    found.job_states = Counter(jobs[j].state for j in accepted if j in jobs)
    found.lost = {j for j in accepted if j not in jobs or jobs[j].state not in FINAL_JOB_STATES}
    assert all(jobs[j].characters == characters[j] for j in accepted if j in jobs), "a job's text was changed"

    # Exactly once: one generation row, one GenerationCompleted, one UsageRecorded per finished job
    # (counted by event id: a redelivered copy of one event is the relay's at-least-once, which the
    # consumers' inboxes absorb; two event ids would be two completions).
    generations = db.rows("SELECT generation_id, job_id, kind, tenant_id, characters FROM synthesis.generations") or []
    rows_per_job = Counter(g.job_id for g in generations if g.job_id)
    lifecycle = _events(bootstrap, prefix, GENERATION_LIFECYCLE.name)
    completed = defaultdict(set)
    for e in lifecycle:
        if e.type.endswith("GenerationCompleted") and e.payload.job_id:
            completed[e.payload.job_id].add(e.event_id)
    usage = defaultdict(set)
    for e in _events(bootstrap, prefix, USAGE.name):
        if e.type.endswith("UsageRecorded"):
            usage[e.payload.generation_ref].add(e.event_id)
    for job_id in accepted:
        succeeded = job_id in jobs and jobs[job_id].state == "succeeded"
        want = 1 if succeeded else 0
        counts = (rows_per_job[job_id], len(completed[job_id]), len(usage[job_id]))
        if any(c > 1 for c in counts):
            found.duplicated.add(job_id)
        elif succeeded and counts != (want, want, want):
            found.lost.add(job_id)  # finished, but its generation or an event of it is missing
    refs = {g.job_id or str(g.generation_id) for g in generations}
    unbilled = refs - set(usage)
    stray = set(usage) - refs
    if unbilled or stray:
        found.usage_mismatch.append(
            f"generations without UsageRecorded: {len(unbilled)}; usage without generation: {len(stray)}"
        )

    # Usage totals (billing and tenancy's quota) equal the completed work, tenant by tenant.
    spoken: Counter = Counter()
    count: Counter = Counter()
    for g in generations:
        spoken[g.tenant_id] += g.characters
        count[g.tenant_id] += 1
    billed = {
        r.tenant_id: r
        for r in db.rows(
            "SELECT tenant_id, sum(characters) AS characters, sum(generations) AS n"
            " FROM billing.usage_totals GROUP BY tenant_id"
        )
        or []
    }
    used = {
        r.tenant_id: r.used
        for r in db.rows("SELECT tenant_id, sum(characters_used) AS used FROM tenancy.usage_periods GROUP BY tenant_id")
        or []
    }
    for tenant in tenants:
        row = billed.get(tenant)
        have = (int(row.characters), int(row.n)) if row else (0, 0)
        if have != (spoken[tenant], count[tenant]):
            found.usage_mismatch.append(f"billing {tenant}: {have} != generated {(spoken[tenant], count[tenant])}")
        if int(used.get(tenant, 0)) != spoken[tenant]:
            found.usage_mismatch.append(f"tenancy {tenant}: used {used.get(tenant, 0)} != generated {spoken[tenant]}")

    held = (
        db.rows(
            "SELECT id, tenant_id, characters, job_slots, created_at FROM tenancy.reservations WHERE status = 'active'"
        )
        or []
    )
    found.held_reservations = [
        f"{r.id} tenant {r.tenant_id}: {r.characters} chars, {r.job_slots} slot(s), since {r.created_at}" for r in held
    ]
    found.undecided_voices = [
        f"{r.id}: {r.status}"
        for r in db.rows("SELECT id, status FROM embedding.voices WHERE id = ANY(:ids)", ids=voices) or []
        if r.status not in FINAL_VOICE_STATES
    ]

    # Clients: every call served or refused clearly; a stream that ended cleanly was complete (its
    # generation was recorded: usage is recorded only once the last piece is made).
    by_id = {g.generation_id: g for g in generations}
    found.outcomes = Counter(f"{o.kind} {o.status} {o.verdict}" for o in outcomes)
    found.unclear_calls = [o for o in outcomes if o.verdict == "unclear"]
    found.half_files = [
        o
        for o in outcomes
        if o.kind in ("stream", "long stream", "unary")
        and o.verdict == "ok"
        and (o.generation_id not in by_id or o.body_bytes == 0)
    ]
    return found


def fault_table(records: list[FaultRecord], found: Findings) -> str:
    lines = [
        "| fault | target | jobs in flight | calls in flight | lost | duplicated | recovery s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in records:
        recovery = f"{r.recovery_s:.1f}" if r.recovery_s is not None else "not recovered"
        lines.append(
            f"| {r.name} | {r.target} | {len(r.jobs_in_flight)} | {r.calls_in_flight} | "
            f"{len(r.jobs_in_flight & found.lost)} | {len(r.jobs_in_flight & found.duplicated)} | {recovery} |"
        )
    return "\n".join(lines)
