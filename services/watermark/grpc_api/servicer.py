"""WatermarkService RPCs: authorise, translate, delegate to the service layer, translate back."""

from __future__ import annotations

from kit.grpc.auth import Principal, current_principal
from kit.grpc.convert import ts
from services.watermark.domain.callers import Caller
from services.watermark.service_layer.marking import Marking
from services.watermark.service_layer.provenance import Provenance
from timbre.v1 import watermark_pb2, watermark_pb2_grpc


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
        found = self.marking.detect(request.audio)
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
