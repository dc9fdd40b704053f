"""SynthesisService RPCs: authorise, translate the request, call the service layer, translate back."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator

import grpc

from kit.errors import InvalidArgument
from kit.grpc.auth import current_principal
from kit.grpc.convert import page_request, page_response
from services.synthesis.grpc_api.convert import (
    JOB_STATE_NAMES,
    WEBHOOK_EVENT_NAMES,
    caller_of,
    format_code,
    job_message,
    speech_request,
    webhook_message,
)
from services.synthesis.grpc_api.speech_slots import SpeechSlots
from services.synthesis.service_layer.jobs import Jobs
from services.synthesis.service_layer.live import DEFAULT_LIVE_CHARACTERS, LiveSpeaker, LiveText
from services.synthesis.service_layer.speech import Speaker
from services.synthesis.service_layer.webhooks import Webhooks
from timbre.v1 import synthesis_pb2, synthesis_pb2_grpc


def _tenant() -> str:
    return caller_of(current_principal()).tenant_id


class SynthesisServicer(synthesis_pb2_grpc.SynthesisServiceServicer):
    def __init__(self, speaker: Speaker, jobs: Jobs, webhooks: Webhooks, slots: SpeechSlots | None = None) -> None:
        self.speaker = speaker
        self.jobs = jobs
        self.webhooks = webhooks
        self.live = LiveSpeaker(speaker)
        # The caller is authenticated (the interceptor ran) before a request waits here for a slot.
        self.slots = slots or SpeechSlots(16, 60.0)

    def Synthesize(self, request, context):
        caller = caller_of(current_principal())
        with self.slots.held():
            result = self.speaker.synthesize(caller, speech_request(request.voice_id, request.text, request.options))
        return synthesis_pb2.SynthesizeResponse(
            generation_id=str(result.generation_id),
            audio=result.audio,
            format=format_code(result.format),
            sample_rate=result.sample_rate,
            audio_seconds=result.audio_seconds,
        )

    def SynthesizeStream(self, request, context):
        caller = caller_of(current_principal())
        with self.slots.held():  # before the speaker reserves any quota: a refused wait costs nothing
            generation_id, pieces = self.speaker.stream(
                caller, speech_request(request.voice_id, request.text, request.options)
            )
            sequence = 0
            try:
                for piece in pieces:  # each piece leaves as soon as it is encoded
                    yield synthesis_pb2.SynthesizeStreamResponse(
                        generation_id=str(generation_id), sequence=sequence, audio=piece
                    )
                    sequence += 1
                # The stream is complete (and its usage recorded) only now: say so in a closing message.
                yield synthesis_pb2.SynthesizeStreamResponse(
                    generation_id=str(generation_id), sequence=sequence, last=True
                )
            finally:
                pieces.close()  # a client gone mid-stream: the speaker releases the reservation

    def SynthesizeLive(self, request_iterator, context):
        caller = caller_of(current_principal())
        opening = next(request_iterator, None)
        if opening is None or not opening.voice_id:
            raise InvalidArgument("a live session opens with a message naming its voice", field="voice_id")
        inputs = (LiveText(m.text, m.flush) for m in itertools.chain([opening], request_iterator))
        request = speech_request(opening.voice_id, "", opening.options)
        with self.slots.held():
            generation_id, totals, pieces = self.live.open(
                caller, request, opening.max_characters or DEFAULT_LIVE_CHARACTERS, inputs
            )
            reply = functools.partial(synthesis_pb2.SynthesizeLiveResponse, generation_id=str(generation_id))
            sequence = 0
            try:
                for piece in pieces:
                    yield reply(sequence=sequence, audio=piece, characters=totals.characters)
                    sequence += 1
                yield reply(
                    sequence=sequence, last=True, characters=totals.characters, audio_seconds=totals.audio_seconds
                )
            finally:
                pieces.close()  # a client gone mid-session: the reservation is released, nothing counted

    def SubmitJob(self, request, context):
        job = self.jobs.submit(
            caller_of(current_principal()),
            speech_request(request.voice_id, request.text, request.options),
            request.idempotency_key,
        )
        return synthesis_pb2.SubmitJobResponse(job=job_message(job))

    def GetJob(self, request, context):
        return synthesis_pb2.GetJobResponse(job=job_message(self.jobs.get(_tenant(), request.job_id)))

    def CancelJob(self, request, context):
        return synthesis_pb2.CancelJobResponse(job=job_message(self.jobs.cancel(_tenant(), request.job_id)))

    def ListJobs(self, request, context):
        state = JOB_STATE_NAMES.get(request.state) if request.state else None
        page = self.jobs.list(_tenant(), state, page_request(request.page))
        return synthesis_pb2.ListJobsResponse(jobs=[job_message(j) for j in page.items], page=page_response(page))

    def GetJobAudio(self, request, context):
        job, audio = self.jobs.audio(_tenant(), request.job_id)
        return synthesis_pb2.GetJobAudioResponse(audio=audio, format=format_code(job.format))

    def ReadJobAudio(
        self, request: synthesis_pb2.ReadJobAudioRequest, context: grpc.ServicerContext
    ) -> Iterator[synthesis_pb2.ReadJobAudioResponse]:
        # Checked before the first message: errors reach the client as the call's status.
        audio = self.jobs.read_audio(_tenant(), request.job_id, request.offset, request.length)
        code = format_code(audio.format)
        sent = False
        for chunk in audio.chunks:
            yield synthesis_pb2.ReadJobAudioResponse(
                total_size=audio.total_size, format=code, content_type=audio.content_type, chunk=chunk
            )
            sent = True
        if not sent:  # an empty range still says what the file is
            yield synthesis_pb2.ReadJobAudioResponse(
                total_size=audio.total_size, format=code, content_type=audio.content_type
            )

    def CreateWebhook(self, request, context):
        hook, secret = self.webhooks.create(
            _tenant(), request.url, [WEBHOOK_EVENT_NAMES[e] for e in request.events if e in WEBHOOK_EVENT_NAMES]
        )
        return synthesis_pb2.CreateWebhookResponse(webhook=webhook_message(hook), secret=secret)

    def ListWebhooks(self, request, context):
        page = self.webhooks.list(_tenant(), page_request(request.page))
        return synthesis_pb2.ListWebhooksResponse(
            webhooks=[webhook_message(w) for w in page.items], page=page_response(page)
        )

    def DeleteWebhook(self, request, context):
        self.webhooks.delete(_tenant(), request.webhook_id)
        return synthesis_pb2.DeleteWebhookResponse()
