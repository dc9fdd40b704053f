"""Watermark use cases: mark audio, detect marks, read provenance."""

from __future__ import annotations

from kit.audio.codec import AudioDecodeError, decode, encode
from kit.db.engine import UnitOfWork
from kit.errors import InvalidArgument, NotFound, PermissionDenied
from kit.grpc.auth import Principal
from kit.watermark import Detection, Watermarker
from services.watermark.domain.provenance import MAX_GENERATION_ID, Record
from services.watermark.storage import repository as repo

MAX_AUDIO_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 1800.0
API_VERSION = "v1"


class Marks:
    def __init__(self, uow: UnitOfWork, marker: Watermarker) -> None:
        self.uow = uow
        self.marker = marker

    @staticmethod
    def _decode(audio: bytes):
        try:
            return decode(audio, target_rate=None, max_seconds=MAX_SECONDS, max_bytes=MAX_AUDIO_BYTES)
        except AudioDecodeError as exc:
            raise InvalidArgument(str(exc), reason=exc.reason) from exc

    def embed(
        self, principal: Principal, audio: bytes, generation_id: int = 0, strength_db: float = 0.0
    ) -> tuple[bytes, int]:
        clip = self._decode(audio)
        if not 16000 <= clip.sample_rate <= 48000:
            raise InvalidArgument(
                f"sample rate {clip.sample_rate} Hz: the mark needs 16–48 kHz", reason="SAMPLE_RATE_TOO_LOW"
            )
        if strength_db and not 0.5 <= strength_db <= 6.0:
            raise InvalidArgument("strength must be 0.5–6 dB")
        if generation_id and not principal.is_privileged:
            raise PermissionDenied("tenants cannot choose generation ids; send 0 to get a new one")
        if generation_id > MAX_GENERATION_ID:
            raise InvalidArgument("generation ids are 32-bit")
        with self.uow.begin() as conn:
            if not generation_id:
                generation_id = repo.next_generation_id(conn)
                repo.record(
                    conn,
                    generation_id=generation_id,
                    tenant_id=principal.tenant_id or "",
                    user_id=principal.key_id or principal.subject,
                    api_version=API_VERSION,
                    source="embed",
                )
        marked = self.marker.embed(clip.samples, clip.sample_rate, generation_id, strength_db or None)
        return encode(marked, clip.sample_rate, "wav"), generation_id

    def detect(self, audio: bytes) -> Detection:
        clip = self._decode(audio)
        return self.marker.detect(clip.samples, clip.sample_rate)

    def provenance(self, principal: Principal, generation_id: int) -> tuple[Record, bool]:
        with self.uow.read() as conn:
            row = repo.find(conn, generation_id) if 0 < generation_id <= MAX_GENERATION_ID else None
        if row is None:
            raise NotFound("no generation with that id")
        record = Record(
            row.generation_id, row.created_at, row.tenant_id, row.voice_id, row.user_id, row.api_version, row.model
        )
        return record.visible_to(principal.tenant_id, principal.is_privileged)
