"""Marking audio with a generation id (a tenant's embed records its provenance) and detecting marks."""

from __future__ import annotations

from dataclasses import dataclass

from kit.audio.codec import AudioDecodeError, Clip, decode, encode
from kit.clock import Clock
from kit.errors import InvalidArgument, PermissionDenied
from kit.watermark import Detection
from services.watermark.domain.callers import Caller
from services.watermark.domain.provenance import MAX_GENERATION_ID, Record
from services.watermark.service_layer.ports import Marker, UnitOfWork

MAX_AUDIO_BYTES = 50 * 1024 * 1024
MAX_SECONDS = 1800.0
# Detection reads at most this much of a clip. The mark repeats in every block, so a prefix finds it,
# and an unmarked clip costs a full tempo × pitch search (~8× real time on one core): without a bound
# one 30-minute upload would hold a worker for minutes (found by the audio fuzzing of #18).
DETECT_MAX_SECONDS = 120.0
API_VERSION = "v1"
EMBED_SOURCE = "embed"


@dataclass(frozen=True)
class MarkedAudio:
    audio: bytes  # WAV at the input's rate
    generation_id: int


def _decode(audio: bytes) -> Clip:
    try:
        return decode(audio, target_rate=None, max_seconds=MAX_SECONDS, max_bytes=MAX_AUDIO_BYTES)
    except AudioDecodeError as exc:
        raise InvalidArgument(str(exc), reason=exc.reason) from exc


class Marking:
    def __init__(self, uow: UnitOfWork, marker: Marker, clock: Clock) -> None:
        self.uow = uow
        self.marker = marker
        self.clock = clock

    def embed(self, caller: Caller, audio: bytes, generation_id: int = 0, strength_db: float = 0.0) -> MarkedAudio:
        """Mark `audio`. Without a generation id a fresh one is drawn and its provenance recorded;
        only the operator and internal services may name the id (synthesis records its own)."""
        clip = _decode(audio)
        if not 16000 <= clip.sample_rate <= 48000:
            raise InvalidArgument(
                f"sample rate {clip.sample_rate} Hz: the mark needs 16–48 kHz", reason="SAMPLE_RATE_TOO_LOW"
            )
        if strength_db and not 0.5 <= strength_db <= 6.0:
            raise InvalidArgument("strength must be 0.5–6 dB")
        if generation_id and not caller.privileged:
            raise PermissionDenied("tenants cannot choose generation ids; send 0 to get a new one")
        if generation_id > MAX_GENERATION_ID:
            raise InvalidArgument("generation ids are 32-bit")
        if not generation_id:
            with self.uow.begin() as registry:
                generation_id = registry.next_generation_id()
                registry.record(
                    Record(
                        generation_id,
                        self.clock.now(),
                        tenant_id=caller.tenant_id or "",
                        user_id=caller.user_id,
                        api_version=API_VERSION,
                    ),
                    source=EMBED_SOURCE,
                )
        marked = self.marker.embed(clip.samples, clip.sample_rate, generation_id, strength_db or None)
        return MarkedAudio(encode(marked, clip.sample_rate, "wav"), generation_id)

    def detect(self, audio: bytes) -> Detection:
        clip = _decode(audio)
        samples = clip.samples[: int(DETECT_MAX_SECONDS * clip.sample_rate)]
        return self.marker.detect(samples, clip.sample_rate)
