"""SynthesisService RPCs: authorise, call the service layer, convert."""

from __future__ import annotations

from kit.grpc.auth import current_principal
from kit.grpc.convert import (
    JOB_STATE_CODES,
    JOB_STATE_NAMES,
    WEBHOOK_EVENT_CODES,
    WEBHOOK_EVENT_NAMES,
    decode_cursor,
    encode_cursor,
    page_size,
    ts,
)
from services.synthesis.domain.generations import format_code, format_name
from services.synthesis.service_layer.jobs import Jobs
from services.synthesis.service_layer.speech import Caller, Speaker, SpeechRequest
from services.synthesis.service_layer.webhooks import Webhooks
from timbre.v1 import common_pb2, synthesis_pb2, synthesis_pb2_grpc


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


def job_message(row) -> synthesis_pb2.Job:
    return synthesis_pb2.Job(
        job_id=row.job_id,
        tenant_id=row.tenant_id,
        voice_id=row.voice_id,
        state=JOB_STATE_CODES[row.state],
        progress=row.progress,
        characters=row.characters,
        options=synthesis_pb2.SpeechOptions(
            language=row.language,
            speed=row.speed,
            pitch=row.pitch,
            format=format_code(row.format),
            sample_rate=row.sample_rate,
        ),
        generation_id=str(row.generation_id or ""),
        audio_seconds=row.audio_seconds,
        error_reason=row.error_reason,
        error_detail=row.error_detail,
        create_time=ts(row.created_at),
        update_time=ts(row.updated_at),
    )


def webhook_message(row) -> synthesis_pb2.Webhook:
    return synthesis_pb2.Webhook(
        webhook_id=row.webhook_id,
        url=row.url,
        events=[WEBHOOK_EVENT_CODES[e] for e in row.events],
        disabled=row.disabled,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        create_time=ts(row.created_at),
    )


def _page(rows: list, limit: int, created, ident) -> common_pb2.PageResponse:
    token = encode_cursor(created(rows[-1]), ident(rows[-1])) if len(rows) == limit else ""
    return common_pb2.PageResponse(next_page_token=token)


class SynthesisServicer(synthesis_pb2_grpc.SynthesisServiceServicer):
    def __init__(self, speaker: Speaker, jobs: Jobs, webhooks: Webhooks) -> None:
        self.speaker = speaker
        self.jobs = jobs
        self.webhooks = webhooks

    def Synthesize(self, request, context):
        result = self.speaker.synthesize(
            Caller.of(current_principal()), speech_request(request.voice_id, request.text, request.options)
        )
        return synthesis_pb2.SynthesizeResponse(
            generation_id=str(result.generation_id),
            audio=result.audio,
            format=format_code(result.format),
            sample_rate=result.sample_rate,
            audio_seconds=result.audio_seconds,
        )

    def SynthesizeStream(self, request, context):
        generation_id, pieces = self.speaker.stream(
            Caller.of(current_principal()), speech_request(request.voice_id, request.text, request.options)
        )
        sequence = 0
        try:
            for piece in pieces:  # each piece leaves as soon as it is encoded
                yield synthesis_pb2.SynthesizeStreamResponse(
                    generation_id=str(generation_id), sequence=sequence, audio=piece
                )
                sequence += 1
            # The stream is complete (and its usage recorded) only now: say so in a closing message.
            yield synthesis_pb2.SynthesizeStreamResponse(generation_id=str(generation_id), sequence=sequence, last=True)
        finally:
            pieces.close()

    def SubmitJob(self, request, context):
        row = self.jobs.submit(
            Caller.of(current_principal()),
            speech_request(request.voice_id, request.text, request.options),
            request.idempotency_key,
        )
        return synthesis_pb2.SubmitJobResponse(job=job_message(row))

    def GetJob(self, request, context):
        return synthesis_pb2.GetJobResponse(
            job=job_message(self.jobs.get(Caller.of(current_principal()).tenant_id, request.job_id))
        )

    def CancelJob(self, request, context):
        row = self.jobs.cancel(Caller.of(current_principal()).tenant_id, request.job_id)
        return synthesis_pb2.CancelJobResponse(job=job_message(row))

    def ListJobs(self, request, context):
        limit = page_size(request.page)
        state = JOB_STATE_NAMES.get(request.state) if request.state else None
        rows = self.jobs.list(
            Caller.of(current_principal()).tenant_id, state, decode_cursor(request.page.page_token), limit
        )
        return synthesis_pb2.ListJobsResponse(
            jobs=[job_message(r) for r in rows], page=_page(rows, limit, lambda r: r.created_at, lambda r: r.job_id)
        )

    def GetJobAudio(self, request, context):
        row, audio = self.jobs.audio(Caller.of(current_principal()).tenant_id, request.job_id)
        return synthesis_pb2.GetJobAudioResponse(audio=audio, format=format_code(row.format))

    def CreateWebhook(self, request, context):
        row, secret = self.webhooks.create(
            Caller.of(current_principal()).tenant_id,
            request.url,
            [WEBHOOK_EVENT_NAMES[e] for e in request.events if e in WEBHOOK_EVENT_NAMES],
        )
        return synthesis_pb2.CreateWebhookResponse(webhook=webhook_message(row), secret=secret)

    def ListWebhooks(self, request, context):
        limit = page_size(request.page)
        rows = self.webhooks.list(
            Caller.of(current_principal()).tenant_id, decode_cursor(request.page.page_token), limit
        )
        return synthesis_pb2.ListWebhooksResponse(
            webhooks=[webhook_message(r) for r in rows],
            page=_page(rows, limit, lambda r: r.created_at, lambda r: r.webhook_id),
        )

    def DeleteWebhook(self, request, context):
        self.webhooks.delete(Caller.of(current_principal()).tenant_id, request.webhook_id)
        return synthesis_pb2.DeleteWebhookResponse()
