"""Long-form jobs: submitted through the API, run by whichever worker consumes GenerationRequested.

A job's text and audio live in object storage. Exactly once, even when a worker dies mid-job: the
consumer commits its offset only after the job's final transaction, so a killed worker's event is
redelivered and the job runs again; the final transaction writes the generation row (unique per
job), the usage event and the job's end state together, and a job already finished is skipped.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from kit.audio.codec import content_type, encode
from kit.clock import Clock, SystemClock
from kit.errors import FailedPrecondition, InvalidArgument, NotFound, TimbreError
from kit.events.topics import DEDICATED_JOBS, GENERATION_LIFECYCLE, TopicSpec
from kit.ids import is_uuid
from kit.logging import get_logger
from kit.paging import Page, PageRequest
from kit.storage import ObjectStore
from services.synthesis.domain.generations import MAX_JOB_TEXT
from services.synthesis.domain.job_objects import job_audio_key, job_text_key
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.voices import VoiceState
from services.synthesis.service_layer.contract import format_code
from services.synthesis.service_layer.ports import Repository, UnitOfWork
from services.synthesis.service_layer.speech import Caller, Speaker, SpeechRequest, Spoken
from services.synthesis.service_layer.webhooks import Webhooks
from timbre.v1 import events_pb2

log = get_logger("synthesis.jobs")
PROGRESS_EVERY_SECONDS = 1.0
# A job's reservation waits in the queue as well as running, so it keeps the long lease speech had
# before unary and streamed speech moved to QUOTA_TTL_SECONDS' shorter one (longer still for long texts).
JOB_QUOTA_TTL_SECONDS = 1800
AUDIO_CHUNK_BYTES = 1 << 20  # one ReadJobAudio message: well under gRPC's 4 MiB message cap
_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class JobOutcome:
    generation_id: int = 0
    audio_key: str = ""
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    reason: str = ""
    detail: str = ""
    skipped: bool = False  # finished, cancelled or out of attempts before this run started


@dataclass(frozen=True)
class JobAudio:
    """A byte range of a finished job's audio file, read lazily in chunks."""

    total_size: int
    format: str
    content_type: str
    chunks: Iterator[bytes]


class Cancelled(Exception):
    pass


class Jobs:
    def __init__(
        self,
        uow: UnitOfWork,
        store: ObjectStore,
        speaker: Speaker,
        webhooks: Webhooks,
        max_attempts: int = 3,
        clock: Clock | None = None,
        dedicated_tiers: frozenset[str] = frozenset(),
    ) -> None:
        self.uow = uow
        self.dedicated_tiers = dedicated_tiers
        self.store = store
        self.speaker = speaker
        self.webhooks = webhooks
        self.max_attempts = max_attempts
        self.clock = clock or SystemClock()

    # --- API -----------------------------------------------------------------------------------

    def submit(self, caller: Caller, request: SpeechRequest, idempotency_key: str = "") -> Job:
        if idempotency_key:
            with self.uow.read() as repo:
                existing = repo.job_by_key(caller.tenant_id, idempotency_key)
            if existing is not None:
                return existing
        state, options, reservation = self.speaker.admit(
            caller, request, MAX_JOB_TEXT, idempotency_key, ttl_seconds=JOB_QUOTA_TTL_SECONDS
        )
        job_id = str(uuid.uuid4())
        text_key = job_text_key(caller.tenant_id, job_id)
        try:
            self.store.put(text_key, request.text.encode(), "text/plain; charset=utf-8")
            with self.uow.begin() as repo:
                job = repo.add_job(
                    Job(
                        job_id=job_id,
                        tenant_id=caller.tenant_id,
                        voice_id=state.voice_id,
                        user_id=caller.user_id,
                        tier=caller.tier,
                        state="queued",
                        characters=len(request.text),
                        language=options.language,
                        format=request.format,
                        speed=options.speed,
                        pitch=options.pitch,
                        sample_rate=options.sample_rate,
                        text_key=text_key,
                        reservation_id=reservation,
                        idempotency_key=idempotency_key or None,
                    )
                )
                repo.stage(
                    self.queue_of(caller),
                    job_id,
                    events_pb2.GenerationRequested(
                        job_id=job_id,
                        tenant_id=caller.tenant_id,
                        voice_id=state.voice_id,
                        text_key=text_key,
                        characters=len(request.text),
                        language=options.language,
                        format=format_code(request.format),  # type: ignore[arg-type]  # the enum's stub is a NewType
                        speed=options.speed,
                        pitch=options.pitch,
                        sample_rate=options.sample_rate,
                        reservation_id=reservation,
                    ),
                    tenant_id=caller.tenant_id,
                )
        except BaseException:
            self.speaker.quotas.release(reservation)
            self.store.delete(text_key)
            raise
        return job

    def get(self, tenant_id: str, job_id: str) -> Job:
        with self.uow.read() as repo:
            job = repo.job(job_id, tenant_id) if is_uuid(job_id) else None
        if job is None:
            raise NotFound("job not found")
        return job

    def cancel(self, tenant_id: str, job_id: str) -> Job:
        with self.uow.begin() as repo:
            job = repo.job(job_id, tenant_id, for_update=True) if is_uuid(job_id) else None
            if job is None:
                raise NotFound("job not found")
            if job.finished:
                raise FailedPrecondition(
                    f"the job has already {job.state}", reason="FAILED_PRECONDITION", state=job.state
                )
            job = repo.save_job(
                replace(job, state="cancelled", error_reason="CANCELLED", error_detail="cancelled by the caller")
            )
        self.speaker.quotas.release(job.reservation_id)
        return job

    def list(self, tenant_id: str, state: str | None, page: PageRequest) -> Page[Job]:
        with self.uow.read() as repo:
            return repo.list_jobs(tenant_id, state, page)

    def _succeeded(self, tenant_id: str, job_id: str) -> Job:
        job = self.get(tenant_id, job_id)
        if job.state != "succeeded":
            raise FailedPrecondition(
                f"the job is {job.state}; its audio exists once it has succeeded",
                reason="FAILED_PRECONDITION",
                state=job.state,
            )
        return job

    def audio(self, tenant_id: str, job_id: str) -> tuple[Job, bytes]:
        """The whole file in memory (the deprecated GetJobAudio); `read_audio` streams it."""
        job = self._succeeded(tenant_id, job_id)
        return job, self.store.get(job.audio_key)

    def read_audio(
        self, tenant_id: str, job_id: str, offset: int = 0, length: int = 0, chunk_bytes: int = AUDIO_CHUNK_BYTES
    ) -> JobAudio:
        """`length` bytes from `offset` (0: to the end) of a finished job's audio; a length running past
        the end stops at the end (as HTTP ranges do), an offset past it is InvalidArgument. Checked now;
        the chunks are read from the store as they are taken."""
        job = self._succeeded(tenant_id, job_id)
        total = self.store.stat(job.audio_key).size
        if offset < 0 or length < 0:
            raise InvalidArgument("offset and length must not be negative", field="offset" if offset < 0 else "length")
        if offset >= total and (offset or length):
            raise InvalidArgument(f"offset {offset} is outside the file of {total} bytes", field="offset", size=total)
        end = total if not length else min(total, offset + length)
        return JobAudio(
            total, job.format, content_type(job.format), self._chunks(job.audio_key, offset, end, chunk_bytes)
        )

    def queue_of(self, caller: Caller) -> TopicSpec:
        """Where a job waits for a worker: its tier's dedicated pool, or the shared one."""
        return DEDICATED_JOBS if caller.tier_name in self.dedicated_tiers else GENERATION_LIFECYCLE

    def _chunks(self, key: str, start: int, end: int, chunk_bytes: int) -> Iterator[bytes]:
        for at in range(start, end, chunk_bytes):
            yield self.store.read(key, at, min(chunk_bytes, end - at))

    # --- worker --------------------------------------------------------------------------------

    def start(self, job_id: str) -> Job | None:
        """Claims the job for this run; None when there is nothing to do."""
        with self.uow.begin() as repo:
            job = repo.job(job_id, for_update=True)
            if job is None or job.finished:
                return None
            if job.attempts >= self.max_attempts:
                self._fail(repo, job, "INTERNAL", f"the job did not finish in {job.attempts} attempts")
                return None
            job = repo.save_job(replace(job, state="running", attempts=job.attempts + 1, progress=0.0))
            repo.stage(
                GENERATION_LIFECYCLE,
                job_id,
                events_pb2.GenerationStarted(job_id=job_id, tenant_id=job.tenant_id, worker_id=_WORKER_ID),
                tenant_id=job.tenant_id,
            )
        return job

    def run(self, job_id: str) -> JobOutcome:
        """The slow part, outside any transaction (the consumer's `prepare`)."""
        job = self.start(job_id)
        if job is None:
            return JobOutcome(skipped=True)
        started = self.clock.monotonic()
        request = SpeechRequest(
            job.voice_id,
            self.store.get(job.text_key).decode(),
            job.language,
            job.speed,
            job.pitch,
            job.sample_rate,
            job.format,
        )
        try:
            state = self.speaker.voice_for(job.tenant_id, job.voice_id)
            options = request.options()
            rate = self.speaker.rate_of(options)
            generation_id = self.speaker.new_generation_id()
            tracker = _Progress(self, job, rate, len(request.text))
            segments = list(
                self.speaker.marked_segments(state, request.text, options, generation_id, MAX_JOB_TEXT, tracker)
            )
            samples = np.concatenate(segments) if segments else np.zeros(0, np.float32)
            key = job_audio_key(job.tenant_id, job.job_id, job.format)
            self.store.put(key, encode(samples, rate, job.format), content_type(job.format))
        except Cancelled:
            return JobOutcome(skipped=True)
        except TimbreError as exc:
            return JobOutcome(reason=exc.reason, detail=exc.message)
        return JobOutcome(generation_id, key, len(samples) / rate, self.clock.monotonic() - started)

    def finish(self, repo: Repository, job_id: str, outcome: JobOutcome) -> None:
        """The job's final transaction (the consumer's handler, with its inbox mark)."""
        job = repo.job(job_id, for_update=True)
        if outcome.skipped or job is None or job.finished:
            return
        if outcome.reason:
            self._fail(repo, job, outcome.reason, outcome.detail)
            return
        if not repo.job_has_generation(job_id):
            # The voice's row outlives its deletion; the fallback only keeps the usage from being lost.
            voice = repo.voice(job.voice_id) or VoiceState(job.voice_id, job.tenant_id)
            caller = Caller(job.tenant_id, job.user_id, job.tier)
            spoken = Spoken(
                outcome.generation_id,
                "job",
                job.language,
                job.format,
                job.characters,
                outcome.audio_seconds,
                outcome.compute_seconds,
                job_id,
                outcome.audio_key,
                total_seconds=self._since_submitted(job, outcome),
                reservation_id=job.reservation_id,
            )
            self.speaker.record(repo, caller, voice, spoken)
            self.speaker.count(caller, job.language, job.characters, "ok", outcome.compute_seconds)
        job = repo.save_job(
            replace(
                job,
                state="succeeded",
                progress=1.0,
                audio_key=outcome.audio_key,
                generation_id=outcome.generation_id,
                audio_seconds=outcome.audio_seconds,
            )
        )
        self.webhooks.stage(repo, job, "job.succeeded")
        self.speaker.quotas.commit(job.reservation_id)

    def _since_submitted(self, job: Job, outcome: JobOutcome) -> float:
        """A job's latency as its caller sees it: from its admission (submission) to its audio being
        stored, queueing and earlier attempts included; its first chunk is the same moment."""
        if job.created_at is None:
            return outcome.compute_seconds
        return max(outcome.compute_seconds, (self.clock.now() - job.created_at).total_seconds())

    def _fail(self, repo: Repository, job: Job, reason: str, detail: str) -> None:
        job = repo.save_job(replace(job, state="failed", error_reason=reason, error_detail=detail))
        voice = repo.voice(job.voice_id)
        repo.stage(
            GENERATION_LIFECYCLE,
            job.job_id,
            events_pb2.GenerationFailed(
                job_id=job.job_id,
                tenant_id=job.tenant_id,
                reason=reason,
                detail=detail,
                voice_id=job.voice_id,
                language=job.language,
                model=self.speaker.model_of(voice) if voice is not None else self.speaker.engine.name,
                characters=job.characters,
                kind="job",
                generation_ref=job.job_id,
            ),
            tenant_id=job.tenant_id,
        )
        self.webhooks.stage(repo, job, "job.failed")
        self.speaker.quotas.release(job.reservation_id)
        log.warning("job_failed", job_id=job.job_id, reason=reason)

    def note_progress(self, job: Job, fraction: float) -> None:
        """Progress in the job's row (read by GetJob); an event only at each tenth, so progress does not
        crowd the generation topic. A job cancelled meanwhile stops here."""
        fraction = round(min(fraction, 0.99), 3)
        with self.uow.begin() as repo:
            current = repo.job(job.job_id, for_update=True)
            if current is None or current.state != "running":
                raise Cancelled()
            repo.save_job(replace(current, progress=fraction))
            if int(fraction * 10) > int(current.progress * 10):
                repo.stage(
                    GENERATION_LIFECYCLE,
                    job.job_id,
                    events_pb2.GenerationProgress(job_id=job.job_id, tenant_id=job.tenant_id, progress=fraction),
                    tenant_id=job.tenant_id,
                )


class _Progress:
    """Turns produced samples into job progress (estimated from characters), at most once a second;
    also where a cancelled job stops."""

    SECONDS_PER_CHARACTER = 0.065  # measured on the embedded engine's English and Thai output

    def __init__(self, jobs: Jobs, job: Job, rate: int, characters: int) -> None:
        self.jobs, self.job = jobs, job
        self.expected = max(characters * self.SECONDS_PER_CHARACTER * rate / max(job.speed, 0.5), 1.0)
        self.done = 0
        self.clock = jobs.clock
        self.last = self.clock.monotonic()

    def __call__(self, samples: int) -> None:
        self.done += samples
        if self.clock.monotonic() - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = self.clock.monotonic()
            self.jobs.note_progress(self.job, self.done / self.expected)
