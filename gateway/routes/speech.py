"""Speech: short text answered as audio (whole or chunked as it is produced), long text as jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import grpc
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.auth import Caller, TenantCaller
from gateway.clients import AsyncReads, call_metadata
from gateway.job_status_cache import JobStatusCache
from gateway.problems import MEDIA_TYPE, problem
from gateway.ranges import InvalidRange, parse_range
from gateway.routes.schemas import JOB_STATE_CODES, JOB_STATE_NAMES, JobStateName, when
from kit.audio.codec import content_type
from kit.grpc.convert import FORMAT_CODES, FORMAT_NAMES
from kit.logging import get_logger
from timbre.v1 import common_pb2, synthesis_pb2

log = get_logger("gateway")
router = APIRouter(tags=["speech"])
# hit: served from the job-status cache; asked: read from synthesis (a miss, or the cache off or bypassed).
JOB_STATUS_READS = Counter("timbre_gateway_job_status_reads_total", "Job status reads, by where from", ["outcome"])
JOB_STATUS_HITS = JOB_STATUS_READS.labels("hit")
JOB_STATUS_ASKED = JOB_STATUS_READS.labels("asked")


# Every format's media type: the files', and headerless PCM (audio/pcm;rate=…) and µ-law (audio/basic).
AUDIO_MEDIA: dict[str, dict] = {
    m: {} for m in ("audio/mpeg", "audio/wav", "audio/flac", "audio/ogg", "audio/pcm", "audio/basic")
}
FormatName = Literal["mp3", "wav", "flac", "ogg", "pcm_16000", "pcm_22050", "pcm_24000", "ulaw_8000"]


class SpeechIn(BaseModel):
    # Lengths are checked by the service (5000 here, 100000 for jobs) so the error names the limit.
    text: str = Field(min_length=1, max_length=200_000)
    language: str = "th"
    format: FormatName = Field(
        "mp3",
        description="pcm_* is headerless 16-bit little-endian mono PCM at that rate, ulaw_8000 G.711 µ-law at 8 kHz; "
        "these fix the sample rate (sample_rate must be 0 or the same)",
    )
    speed: float = Field(1.0, ge=0.5, le=2.0)
    pitch: float = Field(0.0, ge=-12, le=12)
    # Bounded here too: a number beyond int32 cannot even be put into the request to the service.
    sample_rate: int = Field(0, ge=0, le=48000, description="8000–48000 Hz; 0 means the engine's native rate")
    stream: bool = False

    def options(self) -> synthesis_pb2.SpeechOptions:
        return synthesis_pb2.SpeechOptions(
            language=self.language,
            speed=self.speed,
            pitch=self.pitch,
            format=FORMAT_CODES[self.format],
            sample_rate=self.sample_rate,
        )


class JobIn(SpeechIn):
    voice_id: str
    idempotency_key: str = Field("", max_length=200)


class JobOut(BaseModel):
    job_id: str
    voice_id: str
    state: str
    progress: float
    characters: int
    format: str
    generation_id: int | None
    audio_seconds: float
    error_reason: str | None
    error_detail: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, job: synthesis_pb2.Job) -> JobOut:
        return cls(
            job_id=job.job_id,
            voice_id=job.voice_id,
            state=JOB_STATE_NAMES[job.state],
            progress=round(job.progress, 3),
            characters=job.characters,
            format=FORMAT_NAMES.get(job.options.format, "mp3"),
            generation_id=int(job.generation_id) if job.generation_id else None,
            audio_seconds=round(job.audio_seconds, 3),
            error_reason=job.error_reason or None,
            error_detail=job.error_detail or None,
            created_at=when(job.create_time),
            updated_at=when(job.update_time),
        )


class JobList(BaseModel):
    items: list[JobOut]
    next_page_token: str | None


@router.post(
    "/v1/voices/{voice_id}/speech",
    summary="Speak text (≤ 5000 characters) in a ready voice",
    response_class=Response,  # audio only: no JSON success body to document
    responses={200: {"content": AUDIO_MEDIA}},
)
def speak(voice_id: str, body: SpeechIn, request: Request, caller: Caller = TenantCaller) -> Response:
    stub = request.app.state.backends.synthesis
    media = content_type(body.format)
    if not body.stream:
        reply = stub.Synthesize(
            synthesis_pb2.SynthesizeRequest(voice_id=voice_id, text=body.text, options=body.options()),
            metadata=caller.metadata,
        )
        return Response(
            reply.audio,
            media_type=media,
            headers={"Timbre-Generation-Id": reply.generation_id, "Timbre-Audio-Seconds": f"{reply.audio_seconds:.3f}"},
        )
    call = stub.SynthesizeStream(
        synthesis_pb2.SynthesizeStreamRequest(voice_id=voice_id, text=body.text, options=body.options()),
        metadata=caller.metadata,
    )
    first = next(call)  # errors (limits, quota, consent) surface here, before any byte is sent

    def pieces():
        try:
            yield first.audio
            for message in call:
                yield message.audio
        except grpc.RpcError as error:
            # Headers are gone, so no error status can be sent. Re-raised, the server aborts the chunked
            # body (no final chunk) and the client sees a broken transfer; returning would end it cleanly,
            # a half file that looks whole (found by tests/faults: an edge killed mid-stream).
            log.warning("speech_stream_interrupted", code=error.code().name)
            raise
        finally:
            call.cancel()

    return StreamingResponse(pieces(), media_type=media, headers={"Timbre-Generation-Id": first.generation_id})


@router.post("/v1/jobs", status_code=202, response_model=JobOut, summary="Queue long text (≤ 100000 characters)")
def submit_job(body: JobIn, request: Request, caller: Caller = TenantCaller) -> JobOut:
    reply = request.app.state.backends.synthesis.SubmitJob(
        synthesis_pb2.SubmitJobRequest(
            voice_id=body.voice_id, text=body.text, options=body.options(), idempotency_key=body.idempotency_key
        ),
        metadata=caller.metadata,
    )
    return JobOut.of(reply.job)


@router.get("/v1/jobs", response_model=JobList, summary="The tenant's jobs, newest first")
def list_jobs(
    request: Request,
    state: JobStateName | None = None,
    page_size: int = Query(20, ge=1, le=100),
    page_token: str = "",
    caller: Caller = TenantCaller,
) -> JobList:
    reply = request.app.state.backends.synthesis.ListJobs(
        synthesis_pb2.ListJobsRequest(
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
            state=JOB_STATE_CODES[state] if state else synthesis_pb2.JOB_STATE_UNSPECIFIED,
        ),
        metadata=caller.metadata,
    )
    return JobList(items=[JobOut.of(j) for j in reply.jobs], next_page_token=reply.page.next_page_token or None)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, summary="A job's state and progress")
async def get_job(job_id: str, request: Request, caller: Caller = TenantCaller) -> Response:
    # The hottest read (clients poll it). A cached status is the JSON body the response model would give,
    # returned as is (no validation, no serialization); a miss awaits synthesis through grpc.aio.
    statuses: JobStatusCache | None = request.app.state.job_statuses
    if statuses is not None:
        body = statuses.get(caller.tenant_id, job_id)
        if body is not None:
            JOB_STATUS_HITS.inc()
            return Response(body, media_type="application/json")
    JOB_STATUS_ASKED.inc()
    asked_at = statuses.now() if statuses is not None else 0.0
    message = synthesis_pb2.GetJobRequest(job_id=job_id)
    reads: AsyncReads | None = request.app.state.reads
    if reads is not None:
        reply = await reads.synthesis.GetJob(message, metadata=call_metadata(caller.metadata), timeout=reads.timeout)
    else:
        reply = await run_in_threadpool(request.app.state.backends.synthesis.GetJob, message, metadata=caller.metadata)
    job = JobOut.of(reply.job)
    body = job.model_dump_json().encode()
    if statuses is not None:
        # Only answers are kept, never errors: a job of another tenant (or none) stays synthesis's 404.
        statuses.put(caller.tenant_id, job_id, job.state, body, asked_at)
    return Response(body, media_type="application/json")


@router.delete("/v1/jobs/{job_id}", response_model=JobOut, summary="Cancel a queued or running job")
def cancel_job(job_id: str, request: Request, caller: Caller = TenantCaller) -> JobOut:
    statuses: JobStatusCache | None = request.app.state.job_statuses
    try:
        reply = request.app.state.backends.synthesis.CancelJob(
            synthesis_pb2.CancelJobRequest(job_id=job_id), metadata=caller.metadata
        )
    finally:
        if statuses is not None:
            # After the call (failed ones too: it may have cancelled before failing): a poll that read the
            # old state meanwhile cannot keep it, and the next poll asks synthesis.
            statuses.evict(caller.tenant_id, job_id)
    return JobOut.of(reply.job)


AUDIO_HEADERS = {
    "Content-Length": {"schema": {"type": "integer"}},
    "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}},
}


@router.get(
    "/v1/jobs/{job_id}/audio",
    response_class=Response,  # audio only: no JSON success body to document
    summary="A finished job's audio, streamed; HTTP Range (one `bytes=` range) fetches a part",
    responses={
        200: {"description": "The whole file", "content": AUDIO_MEDIA, "headers": AUDIO_HEADERS},
        206: {
            "description": "The requested byte range",
            "content": AUDIO_MEDIA,
            "headers": {**AUDIO_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
        },
        416: {
            "description": "The range lies outside the file (Content-Range: bytes */<size>)",
            "content": {MEDIA_TYPE: {}},
        },
    },
)
def job_audio(
    job_id: str,
    request: Request,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    caller: Caller = TenantCaller,
) -> Response:
    stub = request.app.state.backends.synthesis
    # No validators (ETag, Last-Modified) are sent, so an If-Range can never match: whole file.
    try:
        wanted = None if request.headers.get("if-range") else parse_range(range_header)
    except InvalidRange as error:
        return _unsatisfiable(request, str(error), total=None)
    if wanted is None:
        first, call = _open_audio(stub, job_id, 0, 0, caller)
        size = first.total_size if first else 0
        return _audio_response(first, call, 200, size, {})
    total = _audio_size(stub, job_id, caller)
    span = wanted.resolve(total)
    if span is None:
        return _unsatisfiable(request, f"{range_header} lies outside the audio's {total} bytes", total=total)
    start, end = span
    first, call = _open_audio(stub, job_id, start, end - start + 1, caller)
    return _audio_response(first, call, 206, end - start + 1, {"Content-Range": f"bytes {start}-{end}/{total}"})


def _open_audio(stub, job_id: str, offset: int, length: int, caller: Caller):
    """The call and its first message, pulled before any response starts: errors (unknown job, audio not
    ready) still become problem+json answers."""
    call = stub.ReadJobAudio(
        synthesis_pb2.ReadJobAudioRequest(job_id=job_id, offset=offset, length=length), metadata=caller.metadata
    )
    first: synthesis_pb2.ReadJobAudioResponse | None = next(call, None)
    return first, call


def _audio_size(stub, job_id: str, caller: Caller) -> int:
    # The size must be known to resolve the range before asking for it: a one-byte read tells it, and
    # the synthesis service is only ever asked for ranges that lie inside the file.
    first, call = _open_audio(stub, job_id, 0, 1, caller)
    call.cancel()
    return first.total_size if first else 0


def _audio_response(
    first: synthesis_pb2.ReadJobAudioResponse | None, call, status: int, length: int, headers: dict[str, str]
) -> StreamingResponse:
    def pieces():
        try:
            if first is not None:
                yield first.chunk
            for message in call:
                yield message.chunk
        except grpc.RpcError as error:
            # Headers are gone: the body ends short of Content-Length, which tells the client it broke.
            log.warning("job_audio_interrupted", code=error.code().name)
        finally:
            call.cancel()

    media = "application/octet-stream"
    if first is not None:
        media = first.content_type or content_type(FORMAT_NAMES.get(first.format, "mp3"))
    return StreamingResponse(
        pieces(),
        status_code=status,
        media_type=media,
        headers={"Content-Length": str(length), "Accept-Ranges": "bytes", **headers},
    )


def _unsatisfiable(request: Request, detail: str, total: int | None) -> Response:
    headers = {"Accept-Ranges": "bytes"}
    if total is not None:
        headers["Content-Range"] = f"bytes */{total}"
    return problem(416, "Range not satisfiable", detail, "RANGE_NOT_SATISFIABLE", request.url.path, headers=headers)
