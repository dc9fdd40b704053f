"""WatermarkService RPCs: authorise, translate, delegate to the service layer, translate back."""

from __future__ import annotations

from collections.abc import Iterable

from kit.errors import InvalidArgument
from kit.grpc.auth import Principal, current_principal
from kit.grpc.convert import ts
from services.watermark.domain.callers import Caller
from services.watermark.service_layer.marking import MAX_AUDIO_BYTES, Marking
from services.watermark.service_layer.provenance import Provenance
from timbre.v1 import watermark_pb2, watermark_pb2_grpc

MAX_CHUNK_BYTES = 1024 * 1024


def collect_chunks(requests: Iterable[watermark_pb2.DetectStreamRequest], cap: int = MAX_AUDIO_BYTES) -> bytes:
    """The file a DetectStream carries, refused as soon as a chunk or the whole goes over its cap (so an
    endless stream is never held), not after it has all arrived."""
    audio = bytearray()
    for request in requests:
        if len(request.chunk) > MAX_CHUNK_BYTES:
            raise InvalidArgument(f"chunks must be at most {MAX_CHUNK_BYTES} bytes")
        if len(audio) + len(request.chunk) > cap:
            raise InvalidArgument(f"the audio exceeds {cap} bytes", reason="AUDIO_TOO_LARGE")
        audio.extend(request.chunk)
    return bytes(audio)


def caller_of(principal: Principal) -> Caller:
    return Caller(principal.tenant_id, principal.key_id or principal.subject, principal.is_privileged)


class WatermarkServicer(watermark_pb2_grpc.WatermarkServiceServicer):
    def __init__(self, marking: Marking, provenance: Provenance) -> None:
        self.marking = marking
        self.provenance = provenance

    def Embed(self, request, context):
        marked = self.marking.embed(
            caller_of(current_principal()), request.audio, request.generation_id, request.strength
        )
        return watermark_pb2.EmbedResponse(audio=marked.audio, generation_id=marked.generation_id)

    def Detect(self, request, context):
        current_principal()  # any authenticated caller
        return self._detected(request.audio)

    def DetectStream(self, request_iterator, context):
        current_principal()  # any authenticated caller
        return watermark_pb2.DetectStreamResponse(detection=self._detected(collect_chunks(request_iterator)))

    def _detected(self, audio: bytes) -> watermark_pb2.DetectResponse:
        found = self.marking.detect(audio)
        return watermark_pb2.DetectResponse(
            watermarked=found.watermarked,
            confidence=found.confidence,
            generation_id=found.generation_id or 0,
            has_generation_id=found.generation_id is not None,
            tempo=found.tempo if found.watermarked else 0.0,
            pitch_semitones=found.pitch_semitones if found.watermarked else 0.0,
        )

    def GetProvenance(self, request, context):
        record, full = self.provenance.lookup(caller_of(current_principal()), request.generation_id)
        return watermark_pb2.GetProvenanceResponse(
            provenance=watermark_pb2.Provenance(
                generation_id=record.generation_id,
                create_time=ts(record.created_at),
                tenant_id=record.tenant_id,
                voice_id=record.voice_id,
                user_id=record.user_id,
                api_version=record.api_version,
                model=record.model,
            ),
            full_record=full,
        )
