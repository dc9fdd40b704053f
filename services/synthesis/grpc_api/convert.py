"""The synthesis contract's enums and messages ↔ the service layer's names and dataclasses."""

from __future__ import annotations

from kit.errors import InvalidArgument
from kit.grpc.auth import Principal
from kit.grpc.convert import FORMAT_CODES, FORMAT_NAMES, ts
from services.synthesis.domain.generations import DEFAULT_FORMAT, FORMATS, check_format
from services.synthesis.domain.jobs import Job
from services.synthesis.domain.webhooks import Webhook
from services.synthesis.service_layer.speech import Caller, SpeechRequest
from timbre.v1 import common_pb2, synthesis_pb2

JOB_STATE_CODES: dict[str, synthesis_pb2.JobState] = {
    "queued": synthesis_pb2.JOB_STATE_QUEUED,
    "running": synthesis_pb2.JOB_STATE_RUNNING,
    "succeeded": synthesis_pb2.JOB_STATE_SUCCEEDED,
    "failed": synthesis_pb2.JOB_STATE_FAILED,
    "cancelled": synthesis_pb2.JOB_STATE_CANCELLED,
}
JOB_STATE_NAMES = {v: k for k, v in JOB_STATE_CODES.items()}
WEBHOOK_EVENT_CODES: dict[str, synthesis_pb2.WebhookEvent] = {
    "job.succeeded": synthesis_pb2.WEBHOOK_EVENT_JOB_SUCCEEDED,
    "job.failed": synthesis_pb2.WEBHOOK_EVENT_JOB_FAILED,
}
WEBHOOK_EVENT_NAMES = {v: k for k, v in WEBHOOK_EVENT_CODES.items()}


def caller_of(principal: Principal) -> Caller:
    return Caller(principal.tenant_scope(), principal.key_id or principal.subject, principal.tier)


def format_name(code: int) -> str:
    """AudioFormat → its name; UNSPECIFIED → mp3."""
    if code == common_pb2.AUDIO_FORMAT_UNSPECIFIED:
        return DEFAULT_FORMAT
    if code not in FORMAT_NAMES:
        raise InvalidArgument(f"unknown audio format {code}; one of {', '.join(FORMATS)}", field="format")
    return FORMAT_NAMES[code]  # type: ignore[index]  # the stub's key type is the enum, a NewType of int


def format_code(name: str) -> common_pb2.AudioFormat:
    return FORMAT_CODES[check_format(name)]  # typed as the enum, for messages (contract.format_code: int)


def speech_request(voice_id: str, text: str, options: synthesis_pb2.SpeechOptions) -> SpeechRequest:
    return SpeechRequest(
        voice_id=voice_id,
        text=text,
        language=options.language or "th",
        speed=options.speed or 1.0,
        pitch=options.pitch,
        sample_rate=options.sample_rate,
        format=format_name(options.format),
    )


def job_message(job: Job) -> synthesis_pb2.Job:
    return synthesis_pb2.Job(
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        voice_id=job.voice_id,
        state=JOB_STATE_CODES[job.state],
        progress=job.progress,
        characters=job.characters,
        options=synthesis_pb2.SpeechOptions(
            language=job.language,
            speed=job.speed,
            pitch=job.pitch,
            format=format_code(job.format),
            sample_rate=job.sample_rate,
        ),
        generation_id=str(job.generation_id or ""),
        audio_seconds=job.audio_seconds,
        error_reason=job.error_reason,
        error_detail=job.error_detail,
        create_time=ts(job.created_at),
        update_time=ts(job.updated_at),
    )


def webhook_message(hook: Webhook) -> synthesis_pb2.Webhook:
    return synthesis_pb2.Webhook(
        webhook_id=hook.webhook_id,
        url=hook.url,
        events=[WEBHOOK_EVENT_CODES[e] for e in hook.events],
        disabled=hook.disabled,
        disabled_reason=hook.disabled_reason,
        consecutive_failures=hook.consecutive_failures,
        create_time=ts(hook.created_at),
    )
