"""The load the faults land on: short jobs from several tenants, streamed and unary speech, and
enrollments, all through the gateway with client timeouts. Every accepted job id and every client
outcome is recorded for the checks after the run."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.faults.clients import Outcome, concurrency_limited, speak, submit_job
from tests.faults.tenants import FINAL_VOICE_STATES, analysed, enroll, voice

WORDS = ["river", "amber", "quiet", "north", "maple", "silver", "harbor", "lantern", "meadow", "copper"]


@dataclass
class Tenant:
    tenant_id: str
    voice_id: str
    client: Callable[[], httpx.Client]  # a fresh client (one per thread: a client's pool is not for many)


@dataclass
class Sizes:
    jobs: int
    streams: int
    unary: int
    enrollments: int
    submitters: int = 6
    # Threads speaking (streamed and unary requests mixed); with the recovery probe, within the pro
    # tier's 5 concurrent generations.
    speakers: int = 3


def short_text(index: int) -> str:
    """10-30 characters, distinct per job, so a job is quick on a CPU and its characters are known."""
    rng = random.Random(index)
    return f"Job {index}: {' '.join(rng.sample(WORDS, 2))}."


@dataclass
class Workload:
    jobs_tenants: list[Tenant]
    speech_tenants: list[Tenant]
    cut_tenant: Tenant  # its long streams are the ones a fault cuts (its own tier limits: never refused)
    enroll_tenant: Tenant
    recordings: list[tuple[str, str, bytes]]
    sizes: Sizes
    grant_consent: Callable[[str, str], None]
    deadline: float  # monotonic: every client stops trying after it
    accepted: dict[str, str] = field(default_factory=dict)  # job id → tenant id
    characters: dict[str, int] = field(default_factory=dict)  # job id → characters submitted
    outcomes: list[Outcome] = field(default_factory=list)
    enrolled: dict[str, str] = field(default_factory=dict)  # voice id → tenant id
    errors: list[str] = field(default_factory=list)  # a driver thread that died (a bug in the test)
    in_flight: int = 0  # client calls under way now
    faults_over: threading.Event = field(default_factory=threading.Event)  # speakers stop once it is set
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_job: int = 0

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def calls_in_flight(self) -> int:
        with self._lock:
            return self.in_flight

    def _call(self, fn, *args):
        with self._lock:
            self.in_flight += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _take_job(self) -> int | None:
        with self._lock:
            if self._next_job >= self.sizes.jobs:
                return None
            self._next_job += 1
            return self._next_job - 1

    @staticmethod
    def _backoff(outcome: Outcome) -> None:
        """As a well-behaved client: after a refusal, wait (Retry-After, capped: the run is short)."""
        time.sleep(min(2.0, 0.3 + random.random()) if outcome.status in (429, 503) else 0.5)

    def submitter(self) -> None:
        clients = {t.tenant_id: t.client() for t in self.jobs_tenants}
        while (index := self._take_job()) is not None:
            tenant = self.jobs_tenants[index % len(self.jobs_tenants)]
            text, key = short_text(index), f"fault-job-{index}"
            while time.monotonic() < self.deadline:
                outcome, job_id = self._call(submit_job, clients[tenant.tenant_id], tenant.voice_id, text, key)
                if not concurrency_limited(outcome):  # the tier's normal back-pressure is not an outcome
                    self.record(outcome)
                if job_id:
                    with self._lock:
                        self.accepted[job_id] = tenant.tenant_id
                        self.characters[job_id] = len(text)
                    break
                self._backoff(outcome)

    def speaker(self, number: int) -> None:
        """Its share of the streamed and unary requests, then more of them until the faults are over (so
        that every fault finds calls in flight); each is retried only while the tier's concurrency limit
        refuses it (any other answer is its outcome)."""
        tenant = self.speech_tenants[number % len(self.speech_tenants)]
        http = tenant.client()
        kinds = [True] * self.sizes.streams + [False] * self.sizes.unary
        mine = kinds[number :: self.sizes.speakers]
        random.Random(number).shuffle(mine)
        turn = 0
        while time.monotonic() < self.deadline and (turn < len(mine) or not self.faults_over.is_set()):
            stream = mine[turn] if turn < len(mine) else random.random() < 0.5
            text = f"Speech {number}-{turn}, {random.choice(WORDS)} {random.choice(WORDS)}."
            while time.monotonic() < self.deadline:
                outcome = self._call(speak, http, tenant.voice_id, text, stream)
                if concurrency_limited(outcome):
                    self._backoff(outcome)
                    continue
                self.record(outcome)
                break
            turn += 1
            time.sleep(random.random())

    def streams_under_way(self, count: int, timeout: float = 90) -> list[threading.Thread]:
        """`count` long streams, returned once each has begun to deliver audio (or could not begin), so
        that the next fault lands in the middle of them. Round robin spreads them over the edges."""
        tenant = self.cut_tenant
        text = " ".join(f"Stream cut by a fault, part {i}, {WORDS[i % len(WORDS)]}." for i in range(4))
        begun = [threading.Event() for _ in range(count)]

        def one(flowing: threading.Event) -> None:
            http = tenant.client()
            while time.monotonic() < self.deadline + 60:
                outcome = self._call(speak, http, tenant.voice_id, text, True, flowing)
                if not concurrency_limited(outcome):
                    outcome.kind = "long stream"
                    self.record(outcome)
                    break
                self._backoff(outcome)
            flowing.set()  # answered without audio: nothing left to wait for

        threads = [threading.Thread(target=one, args=(e,), daemon=True) for e in begun]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for flowing in begun:
            flowing.wait(max(0.0, deadline - time.monotonic()))
        return threads

    def enroller(self) -> None:
        """Enrolls each recording (retrying a refused upload), then grants its consent once heard."""
        http = self.enroll_tenant.client()
        spacing = 20.0
        for owner, filename, audio in self.recordings:
            voice_id = None
            while voice_id is None and time.monotonic() < self.deadline:
                try:
                    voice_id = self._call(enroll, http, audio, owner, filename)
                except (AssertionError, httpx.HTTPError) as error:
                    self.record(Outcome("enroll", time.monotonic(), time.monotonic(), 0, "clear", repr(error)[:200]))
                    time.sleep(1.0)
            if voice_id is None:
                return
            self.enrolled[voice_id] = self.enroll_tenant.tenant_id
            threading.Thread(target=self._consent_when_heard, args=(http, voice_id, owner), daemon=True).start()
            time.sleep(spacing * random.random())

    def _consent_when_heard(self, http: httpx.Client, voice_id: str, owner: str) -> None:
        while time.monotonic() < self.deadline:
            seen = voice(http, voice_id)
            if seen is not None and seen["status"] in FINAL_VOICE_STATES - {"ready"}:
                return
            if seen is not None and analysed(seen):
                try:
                    self.grant_consent(voice_id, owner)
                    return
                except Exception:  # noqa: BLE001 - a fault may refuse it; retried like an operator would
                    pass
            time.sleep(1.0)

    def run(self) -> None:
        """Blocks until every job was submitted and every request answered (or the deadline passed)."""

        def guarded(fn, *args):
            try:
                fn(*args)
            except Exception as error:  # noqa: BLE001 - reported as a failure of the run
                self.errors.append(f"{fn.__name__}: {error!r}")

        workers = self.sizes.submitters + self.sizes.speakers + 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in range(self.sizes.submitters):
                pool.submit(guarded, self.submitter)
            for number in range(self.sizes.speakers):
                pool.submit(guarded, self.speaker, number)
            pool.submit(guarded, self.enroller)
