"""Long-form jobs: submitted through the API, run by whichever worker consumes GenerationRequested.

A job's text and audio live in object storage. Exactly once, even when a worker dies mid-job: the
consumer commits its offset only after the job's final transaction, so a killed worker's event is
redelivered and the job runs again; the final transaction writes the generation row (unique per
job), the usage event and the job's end state together, and a job already finished is skipped.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Row

from kit.audio.codec import content_type, encode
from kit.db.engine import UnitOfWork
from kit.errors import FailedPrecondition, NotFound, TimbreError
from kit.events.outbox import Outbox
from kit.events.topics import GENERATION_LIFECYCLE
from kit.ids import is_uuid
from kit.logging import get_logger
from kit.storage import ObjectStore
from kit.storage.keys import job_audio_key, job_text_key
from services.synthesis.domain.generations import MAX_JOB_TEXT, format_code
from services.synthesis.service_layer.speech import Caller, Speaker, SpeechRequest, Spoken
from services.synthesis.service_layer.webhooks import Webhooks
from services.synthesis.storage import repository as repo
from timbre.v1 import events_pb2

log = get_logger("synthesis.jobs")
TERMINAL = ("succeeded", "failed", "cancelled")
PROGRESS_EVERY_SECONDS = 1.0
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


class Cancelled(Exception):
    pass


class Jobs:
    def __init__(
        self,
        uow: UnitOfWork,
        outbox: Outbox,
        store: ObjectStore,
        speaker: Speaker,
        webhooks: Webhooks,
        max_attempts: int = 3,
    ) -> None:
        self.uow = uow
        self.outbox = outbox
        self.store = store
        self.speaker = speaker
        self.webhooks = webhooks
        self.max_attempts = max_attempts

    # --- API -----------------------------------------------------------------------------------

    def submit(self, caller: Caller, request: SpeechRequest, idempotency_key: str = "") -> Row:
        if idempotency_key:
            with self.uow.read() as conn:
                existing = repo.job_by_key(conn, caller.tenant_id, idempotency_key)
            if existing is not None:
                return existing
        state, options, reservation = self.speaker.admit(caller, request, MAX_JOB_TEXT, idempotency_key)
        job_id = str(uuid.uuid4())
        text_key = job_text_key(caller.tenant_id, job_id)
        try:
            self.store.put(text_key, request.text.encode(), "text/plain; charset=utf-8")
            with self.uow.begin() as conn:
                row = repo.add_job(
                    conn,
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
                self.outbox.add(
                    conn,
                    GENERATION_LIFECYCLE,
                    job_id,
                    events_pb2.GenerationRequested(
                        job_id=job_id,
                        tenant_id=caller.tenant_id,
                        voice_id=state.voice_id,
                        text_key=text_key,
                        characters=len(request.text),
                        language=options.language,
                        format=format_code(request.format),
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
        return row

    def get(self, tenant_id: str, job_id: str) -> Row:
        with self.uow.read() as conn:
            row = repo.job(conn, job_id, tenant_id) if is_uuid(job_id) else None
        if row is None:
            raise NotFound("job not found")
        return row

    def cancel(self, tenant_id: str, job_id: str) -> Row:
        with self.uow.begin() as conn:
            row = repo.job(conn, job_id, tenant_id, for_update=True) if is_uuid(job_id) else None
            if row is None:
                raise NotFound("job not found")
            if row.state in TERMINAL:
                raise FailedPrecondition(
                    f"the job has already {row.state}", reason="FAILED_PRECONDITION", state=row.state
                )
            row = repo.set_job(
                conn, job_id, state="cancelled", error_reason="CANCELLED", error_detail="cancelled by the caller"
            )
        self.speaker.quotas.release(row.reservation_id)
        return row

    def list(self, tenant_id: str, state: str | None, after, limit: int) -> list[Row]:
        with self.uow.read() as conn:
            return repo.list_jobs(conn, tenant_id, state, after, limit)

    def audio(self, tenant_id: str, job_id: str) -> tuple[Row, bytes]:
        row = self.get(tenant_id, job_id)
        if row.state != "succeeded":
            raise FailedPrecondition(
                f"the job is {row.state}; its audio exists once it has succeeded",
                reason="FAILED_PRECONDITION",
                state=row.state,
            )
        return row, self.store.get(row.audio_key)

    # --- worker --------------------------------------------------------------------------------

    def start(self, job_id: str) -> Row | None:
        """Claims the job for this run; None when there is nothing to do."""
        with self.uow.begin() as conn:
            row = repo.job(conn, job_id, for_update=True)
            if row is None or row.state in TERMINAL:
                return None
            if row.attempts >= self.max_attempts:
                self._fail(conn, row, "INTERNAL", f"the job did not finish in {row.attempts} attempts")
                return None
            row = repo.set_job(conn, job_id, state="running", attempts=row.attempts + 1, progress=0.0)
            self.outbox.add(
                conn,
                GENERATION_LIFECYCLE,
                job_id,
                events_pb2.GenerationStarted(job_id=job_id, tenant_id=row.tenant_id, worker_id=_WORKER_ID),
                tenant_id=row.tenant_id,
            )
        return row

    def run(self, job_id: str) -> JobOutcome:
        """The slow part, outside any transaction (the consumer's `prepare`)."""
        row = self.start(job_id)
        if row is None:
            return JobOutcome(skipped=True)
        started = time.monotonic()
        request = SpeechRequest(
            row.voice_id,
            self.store.get(row.text_key).decode(),
            row.language,
            row.speed,
            row.pitch,
            row.sample_rate,
            row.format,
        )
        try:
            state = self.speaker.voice_for(row.tenant_id, row.voice_id)
            options = request.options()
            rate = self.speaker.rate_of(options)
            generation_id = self.speaker.new_generation_id()
            tracker = _Progress(self, row, rate, len(request.text))
            segments = list(
                self.speaker.marked_segments(state, request.text, options, generation_id, MAX_JOB_TEXT, tracker)
            )
            samples = np.concatenate(segments) if segments else np.zeros(0, np.float32)
            key = job_audio_key(row.tenant_id, row.job_id, row.format)
            self.store.put(key, encode(samples, rate, row.format), content_type(row.format))
        except Cancelled:
            return JobOutcome(skipped=True)
        except TimbreError as exc:
            return JobOutcome(reason=exc.reason, detail=exc.message)
        return JobOutcome(generation_id, key, len(samples) / rate, time.monotonic() - started)

    def finish(self, conn: Connection, job_id: str, outcome: JobOutcome) -> None:
        """The job's final transaction (the consumer's handler, with its inbox mark)."""
        row = repo.job(conn, job_id, for_update=True)
        if outcome.skipped or row is None or row.state in TERMINAL:
            return
        if outcome.reason:
            self._fail(conn, row, outcome.reason, outcome.detail)
            return
        if repo.generation_of_job(conn, job_id) is None:
            caller = Caller(row.tenant_id, row.user_id, row.tier)
            spoken = Spoken(
                outcome.generation_id,
                "job",
                row.language,
                row.format,
                row.characters,
                outcome.audio_seconds,
                outcome.compute_seconds,
                job_id,
                outcome.audio_key,
            )
            self.speaker.record(conn, caller, repo.voice(conn, row.voice_id), spoken)
            self.speaker.count(caller, row.language, row.characters, "ok", outcome.compute_seconds)
        row = repo.set_job(
            conn,
            job_id,
            state="succeeded",
            progress=1.0,
            audio_key=outcome.audio_key,
            generation_id=outcome.generation_id,
            audio_seconds=outcome.audio_seconds,
        )
        self.webhooks.stage(conn, row, "job.succeeded")
        self.speaker.quotas.commit(row.reservation_id)

    def _fail(self, conn: Connection, row: Row, reason: str, detail: str) -> None:
        row = repo.set_job(conn, row.job_id, state="failed", error_reason=reason, error_detail=detail)
        self.outbox.add(
            conn,
            GENERATION_LIFECYCLE,
            row.job_id,
            events_pb2.GenerationFailed(job_id=row.job_id, tenant_id=row.tenant_id, reason=reason, detail=detail),
            tenant_id=row.tenant_id,
        )
        self.webhooks.stage(conn, row, "job.failed")
        self.speaker.quotas.release(row.reservation_id)
        log.warning("job_failed", job_id=row.job_id, reason=reason)

    def note_progress(self, row: Row, fraction: float) -> None:
        """Progress in the job's row (read by GetJob); an event only at each tenth, so progress does not
        crowd the generation topic. A job cancelled meanwhile stops here."""
        fraction = round(min(fraction, 0.99), 3)
        with self.uow.begin() as conn:
            current = repo.job(conn, row.job_id, for_update=True)
            if current is None or current.state != "running":
                raise Cancelled()
            repo.set_job(conn, row.job_id, progress=fraction)
            if int(fraction * 10) > int(current.progress * 10):
                self.outbox.add(
                    conn,
                    GENERATION_LIFECYCLE,
                    row.job_id,
                    events_pb2.GenerationProgress(job_id=row.job_id, tenant_id=row.tenant_id, progress=fraction),
                    tenant_id=row.tenant_id,
                )


class _Progress:
    """Turns produced samples into job progress (estimated from characters), at most once a second;
    also where a cancelled job stops."""

    SECONDS_PER_CHARACTER = 0.065  # measured on the embedded engine's English and Thai output

    def __init__(self, jobs: Jobs, row: Row, rate: int, characters: int) -> None:
        self.jobs, self.row = jobs, row
        self.expected = max(characters * self.SECONDS_PER_CHARACTER * rate / max(row.speed, 0.5), 1.0)
        self.done = 0
        self.last = time.monotonic()

    def __call__(self, samples: int) -> None:
        self.done += samples
        if time.monotonic() - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = time.monotonic()
            self.jobs.note_progress(self.row, self.done / self.expected)
