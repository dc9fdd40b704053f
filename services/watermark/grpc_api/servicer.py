"""WatermarkService RPCs."""

from __future__ import annotations

from kit.grpc.auth import current_principal
from kit.grpc.convert import ts
from services.watermark.service_layer import Marks
from timbre.v1 import watermark_pb2, watermark_pb2_grpc


class WatermarkServicer(watermark_pb2_grpc.WatermarkServiceServicer):
    def __init__(self, marks: Marks) -> None:
        self.marks = marks

    def Embed(self, request, context):
        audio, generation_id = self.marks.embed(
            current_principal(), request.audio, request.generation_id, request.strength
        )
        return watermark_pb2.EmbedResponse(audio=audio, generation_id=generation_id)

    def Detect(self, request, context):
        current_principal()  # any authenticated caller
        found = self.marks.detect(request.audio)
        return watermark_pb2.DetectResponse(
            watermarked=found.watermarked,
            confidence=found.confidence,
            generation_id=found.generation_id or 0,
            has_generation_id=found.generation_id is not None,
        )

    def GetProvenance(self, request, context):
        record, full = self.marks.provenance(current_principal(), request.generation_id)
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
