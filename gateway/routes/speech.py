"""Speech: short text answered as audio (whole or chunked as it is produced), long text as jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import grpc
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from gateway.auth import Caller, TenantCaller
from gateway.routes.schemas import when
from kit.audio.codec import content_type
from kit.grpc.convert import FORMAT_CODES, FORMAT_NAMES, JOB_STATE_CODES, JOB_STATE_NAMES
from timbre.v1 import common_pb2, synthesis_pb2

router = APIRouter(tags=["speech"])


class SpeechIn(BaseModel):
    # Lengths are checked by the service (5000 here, 100000 for jobs) so the error names the limit.
    text: str = Field(min_length=1, max_length=200_000)
    language: str = "th"
    format: Literal["mp3", "wav", "flac", "ogg"] = "mp3"
    speed: float = Field(1.0, ge=0.5, le=2.0)
    pitch: float = Field(0.0, ge=-12, le=12)
    sample_rate: int = Field(0, description="8000–48000 Hz; 0 means the engine's native rate")
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
    responses={200: {"content": {"audio/mpeg": {}, "audio/wav": {}, "audio/flac": {}, "audio/ogg": {}}}},
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
        except grpc.RpcError:
            # Headers are gone; ending the body early is all HTTP allows. The client sees a short stream.
            return
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
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    page_size: int = Query(20, ge=1, le=100),
    page_token: str = "",
    caller: Caller = TenantCaller,
) -> JobList:
    reply = request.app.state.backends.synthesis.ListJobs(
        synthesis_pb2.ListJobsRequest(
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
            state=JOB_STATE_CODES[state] if state else 0,
        ),
        metadata=caller.metadata,
    )
    return JobList(items=[JobOut.of(j) for j in reply.jobs], next_page_token=reply.page.next_page_token or None)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, summary="A job's state and progress")
def get_job(job_id: str, request: Request, caller: Caller = TenantCaller) -> JobOut:
    reply = request.app.state.backends.synthesis.GetJob(
        synthesis_pb2.GetJobRequest(job_id=job_id), metadata=caller.metadata
    )
    return JobOut.of(reply.job)


@router.delete("/v1/jobs/{job_id}", response_model=JobOut, summary="Cancel a queued or running job")
def cancel_job(job_id: str, request: Request, caller: Caller = TenantCaller) -> JobOut:
    reply = request.app.state.backends.synthesis.CancelJob(
        synthesis_pb2.CancelJobRequest(job_id=job_id), metadata=caller.metadata
    )
    return JobOut.of(reply.job)


@router.get(
    "/v1/jobs/{job_id}/audio",
    summary="A finished job's audio",
    responses={200: {"content": {"audio/mpeg": {}, "audio/wav": {}, "audio/flac": {}, "audio/ogg": {}}}},
)
def job_audio(job_id: str, request: Request, caller: Caller = TenantCaller) -> Response:
    reply = request.app.state.backends.synthesis.GetJobAudio(
        synthesis_pb2.GetJobAudioRequest(job_id=job_id), metadata=caller.metadata
    )
    return Response(reply.audio, media_type=content_type(FORMAT_NAMES.get(reply.format, "mp3")))
