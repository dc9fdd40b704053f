"""Speaking: checks, quota, engine, watermark, encoding and the generation's record.

Every path (unary, streamed, job) shares `Speaker`: the same checks in the same order (text and
options, then the voice and its consent, then quota), the same marking, and one `record` that
writes the generation row with its GenerationCompleted and UsageRecorded events in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from kit.audio.codec import encode
from kit.audio.stream_encoder import StreamEncoder
from kit.clock import Clock, SystemClock
from kit.errors import NotFound, TimbreError
from kit.events.topics import GENERATION_LIFECYCLE, USAGE
from kit.ids import is_uuid
from kit.logging import get_logger
from kit.watermark import SLOT_SECONDS
from services.synthesis import metrics
from services.synthesis.domain.generations import MAX_SHORT_TEXT, Generation, audio_rate
from services.synthesis.domain.voices import VoiceState
from services.synthesis.engine.interface import SpeechOptions
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.service_layer.contract import format_code, tier_name
from services.synthesis.service_layer.ports import Marker, Quotas, Repository, UnitOfWork, VoiceEngine
from timbre.v1 import events_pb2

log = get_logger("synthesis.speech")
API_VERSION = "v1"
# A stream's pieces start at two slots (128 ms) and double. The very first leaves with whatever whole
# slots the engine's first chunk completes, one at least: resampled to 8 kHz, the embedded engine's
# 0.14 s first chunk falls a few samples short of two slots (the resampler's filter delay).
FIRST_PIECE_SLOTS = 2
# A marker in a chunk stream (mark_chunks): send what is pending now (a live session's flush).
FLUSH = np.zeros(0, np.float32)
# Below this much sent-but-unplayed audio, a stream sends whatever whole slots it has (see marked_segments).
LOW_WATER_SECONDS = 1.0


@dataclass(frozen=True)
class SpeechRequest:
    voice_id: str
    text: str
    language: str = "th"
    speed: float = 1.0
    pitch: float = 0.0
    sample_rate: int = 0
    format: str = "mp3"

    def options(self) -> SpeechOptions:
        return SpeechOptions(self.language, self.speed, self.pitch, audio_rate(self.format, self.sample_rate))


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str
    tier: int  # the contract's Tier code (it goes into UsageRecorded as it is)

    @property
    def tier_name(self) -> str:
        return tier_name(self.tier)


@dataclass(frozen=True)
class Spoken:
    """What one finished generation amounts to (its record and usage)."""

    generation_id: int
    kind: str  # unary | stream | job
    language: str
    format: str
    characters: int
    audio_seconds: float
    compute_seconds: float
    job_id: str = ""
    audio_key: str = ""
    # From admission to the first encoded audio and to the last byte; None: the compute seconds (a
    # unary generation's first byte leaves with its last).
    first_chunk_seconds: float | None = None
    total_seconds: float | None = None
    # The tenancy reservation it ran under, carried in UsageRecorded: tenancy settles it from the event
    # when the synchronous commit never came.
    reservation_id: str = ""

    @property
    def total(self) -> float:
        return self.compute_seconds if self.total_seconds is None else self.total_seconds

    @property
    def first_chunk(self) -> float:
        return self.total if self.first_chunk_seconds is None else self.first_chunk_seconds


@dataclass
class _Run:
    """One unary or streamed generation under way: when it was admitted, its id once it has one, and
    when its first encoded piece left."""

    started: float
    generation_id: int = 0
    first_chunk_at: float | None = None


@dataclass(frozen=True)
class SpeechResult:
    generation_id: int
    audio: bytes
    format: str
    sample_rate: int
    audio_seconds: float


class Speaker:
    def __init__(
        self,
        uow: UnitOfWork,
        artifacts: Artifacts,
        engine: VoiceEngine,
        marker: Marker,
        quotas: Quotas,
        segment_seconds: float,
        quota_ttl_seconds: int,
        clock: Clock | None = None,
        worker_class: str = "cpu",
        first_piece_slots: int = FIRST_PIECE_SLOTS,
    ) -> None:
        self.uow = uow
        self.artifacts = artifacts
        self.engine = engine
        self.marker = marker
        self.quotas = quotas
        self.segment_seconds = segment_seconds
        self.first_piece_slots = first_piece_slots
        self.quota_ttl = quota_ttl_seconds
        self.clock = clock or SystemClock()
        self.worker_class = worker_class

    # --- checks --------------------------------------------------------------------------------

    def voice_for(self, tenant_id: str, voice_id: str) -> VoiceState:
        """The caller's own voice, able to speak now; another tenant's voice is simply not found."""
        with self.uow.read() as repo:
            state = repo.voice(voice_id) if is_uuid(voice_id) else None
        if state is None or state.tenant_id != tenant_id or state.deleted:
            raise NotFound("voice not found")
        state.check_can_speak(self.clock.now())
        return state

    def admit(
        self,
        caller: Caller,
        request: SpeechRequest,
        max_chars: int = MAX_SHORT_TEXT,
        idempotency_key: str = "",
        ttl_seconds: int = 0,
        characters: int | None = None,
    ) -> tuple[VoiceState, SpeechOptions, str]:
        """Checks in order (text and options, voice and consent), then reserves characters, a
        concurrency slot and the format with tenancy. Returns (voice, options, reservation id).

        The reservation lives `ttl_seconds` (default: the speech TTL), longer for long texts. It only
        bounds how long a caller that died mid-work holds the tenant's slot: usage recorded after it
        lapsed is still counted (late commit, or tenancy settling it from UsageRecorded).

        `characters`: reserve this many instead of the text's (a live session, whose text is to come)."""
        if characters is None:
            options = request.options().checked(max_chars, request.text, self.engine.languages)
        else:
            options = request.options().checked_settings(self.engine.languages)
        reserved = len(request.text) if characters is None else characters
        code = format_code(request.format)
        state = self.voice_for(caller.tenant_id, request.voice_id)
        ttl = max(ttl_seconds or self.quota_ttl, int(reserved * 0.1))
        reservation = self.quotas.reserve(
            caller.tenant_id,
            characters=reserved,
            job_slots=1,
            format=code,
            ttl_seconds=ttl,
            idempotency_key=idempotency_key,
        )
        return state, options, reservation

    # --- the pipeline --------------------------------------------------------------------------

    def rate_of(self, options: SpeechOptions) -> int:
        return self.engine.output_rate(options)

    def marked_segments(
        self,
        state: VoiceState,
        text: str,
        options: SpeechOptions,
        generation_id: int,
        max_chars: int = MAX_SHORT_TEXT,
        progress: Callable[[int], None] | None = None,
        growing: bool = False,
    ) -> Iterator[np.ndarray]:
        """The engine's PCM regrouped into marked segments of whole mark slots (≥ segment_seconds).

        Every segment starts on the mark's slot grid counted from the start of the stream and is
        marked from its place in the block, so the concatenation carries one continuous mark
        (independently marked pieces would each start their own grid, and detection over the whole
        would fail).

        `growing` (streams): the first segment leaves as soon as the engine has produced
        `first_piece_slots` whole slots, and each later one may be twice as long as the one before,
        up to segment_seconds. The first audio then waits for a few slots, not a whole segment, and
        only the first second or so is cut finely (each cut costs the mark a little at its seam).
        A listener who started playing at the first piece is never kept waiting for a bigger one:
        while less than LOW_WATER_SECONDS of what was sent remains unplayed, any whole slots leave.
        """
        voice = self.artifacts.voice(state)
        chunks = self.engine.synthesize(text, voice, options, max_chars=max_chars)
        yield from self.mark_chunks(chunks, self.rate_of(options), generation_id, progress, growing)

    def mark_chunks(
        self,
        chunks: Iterable[np.ndarray],
        rate: int,
        generation_id: int,
        progress: Callable[[int], None] | None = None,
        growing: bool = False,
    ) -> Iterator[np.ndarray]:
        """marked_segments' cutting and marking, for any source of PCM chunks. A chunk that `is FLUSH`
        sends what is pending now, padded with silence to a whole slot (the grid must not shift)."""
        slot = SLOT_SECONDS * rate
        full = max(1, math.ceil(self.segment_seconds / SLOT_SECONDS - 1e-9))
        target = min(full, self.first_piece_slots) if growing else full
        pending = np.zeros(0, np.float32)
        emitted = emitted_slots = 0
        first_sent_at = 0.0
        for chunk in chunks:
            if chunk is FLUSH:
                if len(pending):
                    slots = math.ceil((emitted + len(pending)) / slot - 1e-9)
                    boundary = round(slots * slot)
                    padded = np.pad(pending, (0, max(0, boundary - emitted - len(pending))))
                    if not emitted:
                        first_sent_at = self.clock.monotonic()
                    yield self.marker.embed(padded, rate, generation_id, first_slot=emitted_slots)
                    pending, emitted, emitted_slots = np.zeros(0, np.float32), boundary, slots
                continue
            pending = np.concatenate([pending, chunk])
            if progress:
                progress(len(chunk))
            slots = int((emitted + len(pending)) / slot)
            boundary = round(slots * slot)
            unplayed = emitted / rate - (self.clock.monotonic() - first_sent_at) if emitted else 0.0
            starving = growing and (not emitted or unplayed < LOW_WATER_SECONDS)
            # Whole slots per segment; -1 absorbs the rounding of slot boundaries to samples.
            if boundary - emitted >= (1 if starving else target) * slot - 1:
                if not emitted:
                    first_sent_at = self.clock.monotonic()
                cut = boundary - emitted
                yield self.marker.embed(pending[:cut], rate, generation_id, first_slot=emitted_slots)
                pending, emitted, emitted_slots = pending[cut:], boundary, slots
                target = min(full, target * 2)
        if len(pending):
            yield self.marker.embed(pending, rate, generation_id, first_slot=emitted_slots)

    def numbered(self, reservation: str) -> int:
        """A new generation id for an admitted stream; if none can be had, its reservation is released."""
        try:
            return self.new_generation_id()
        except BaseException:
            self.quotas.release(reservation)
            raise

    def new_generation_id(self) -> int:
        with self.uow.begin() as repo:
            return repo.next_generation_id()

    def model_of(self, state: VoiceState) -> str:
        return state.engine or self.engine.name

    def record(self, repo: Repository, caller: Caller, state: VoiceState, spoken: Spoken) -> None:
        """The generation's row and its two events, in the caller's transaction."""
        model = self.model_of(state)
        ref = spoken.job_id or str(spoken.generation_id)
        repo.add_generation(
            Generation(
                generation_id=spoken.generation_id,
                tenant_id=caller.tenant_id,
                voice_id=state.voice_id,
                user_id=caller.user_id,
                job_id=spoken.job_id or None,
                kind=spoken.kind,
                model=model,
                language=spoken.language,
                format=spoken.format,
                characters=spoken.characters,
                audio_seconds=spoken.audio_seconds,
                compute_seconds=spoken.compute_seconds,
            )
        )
        repo.stage(
            GENERATION_LIFECYCLE,
            ref,
            events_pb2.GenerationCompleted(
                job_id=spoken.job_id,
                tenant_id=caller.tenant_id,
                voice_id=state.voice_id,
                generation_id=spoken.generation_id,
                user_id=caller.user_id,
                api_version=API_VERSION,
                model=model,
                characters=spoken.characters,
                audio_seconds=spoken.audio_seconds,
                compute_seconds=spoken.compute_seconds,
                audio_key=spoken.audio_key,
            ),
            tenant_id=caller.tenant_id,
        )
        repo.stage(
            USAGE,
            caller.tenant_id,
            events_pb2.UsageRecorded(
                tenant_id=caller.tenant_id,
                generation_ref=ref,
                characters=spoken.characters,
                audio_seconds=spoken.audio_seconds,
                compute_seconds=spoken.compute_seconds,
                model=model,
                tier=caller.tier,  # type: ignore[arg-type]  # the stub types enum fields as a NewType of int
                language=spoken.language,
                voice_id=state.voice_id,
                worker_class=self.worker_class,
                first_chunk_seconds=spoken.first_chunk,
                total_seconds=spoken.total,
                kind=spoken.kind,
                reservation_id=spoken.reservation_id,
            ),
            tenant_id=caller.tenant_id,
        )

    def count(self, caller: Caller, language: str, characters: int, status: str, seconds: float | None = None) -> None:
        metrics.REQUESTS.labels(caller.tier_name, language, status).inc()
        if status == "ok":
            metrics.CHARACTERS.labels(caller.tier_name).inc(characters)
            if seconds is not None:
                metrics.DURATION.labels(self.engine.name).observe(seconds)

    # --- unary and streamed --------------------------------------------------------------------

    def failed(
        self,
        caller: Caller,
        state: VoiceState,
        request: SpeechRequest,
        kind: str,
        generation_id: int,
        error: Exception,
        characters: int | None = None,
    ) -> None:
        """GenerationFailed for a unary or streamed generation that broke after admission (analytics counts
        failures by voice, language and model). Best effort: a failure to announce it is logged and must
        not replace the error the caller gets."""
        reason, detail = (error.reason, error.message) if isinstance(error, TimbreError) else ("INTERNAL", "")
        # Not str(error) for unexpected errors: an engine's message may quote the tenant's text.
        detail = detail or type(error).__name__
        ref = str(generation_id) if generation_id else ""
        try:
            with self.uow.begin() as repo:
                repo.stage(
                    GENERATION_LIFECYCLE,
                    ref or caller.tenant_id,
                    events_pb2.GenerationFailed(
                        tenant_id=caller.tenant_id,
                        reason=reason,
                        detail=detail,
                        voice_id=state.voice_id,
                        language=request.language,
                        model=self.model_of(state),
                        characters=len(request.text) if characters is None else characters,
                        kind=kind,
                        generation_ref=ref,
                    ),
                    tenant_id=caller.tenant_id,
                )
        except Exception:
            log.exception("generation_failed_event_lost", tenant_id=caller.tenant_id, generation_ref=ref, kind=kind)

    @contextmanager
    def _settled(
        self,
        caller: Caller,
        request: SpeechRequest,
        state: VoiceState,
        reservation: str,
        kind: str,
        generation_id: int = 0,
        spoken: Callable[[], int] | None = None,
    ) -> Generator[_Run, None, None]:
        """Around one generation: any failure (or a streaming client going away) releases the
        reservation, success commits it; either way the request is counted. Yields the run (its start time).

        A failure (an Exception) is also announced as GenerationFailed. A client that went away is not a
        failure of the generation: gRPC closes the stream's generator (GeneratorExit) and a cancelled
        caller's task raises CancelledError, both BaseExceptions that only release the reservation.

        `spoken`: the characters actually spoken, when they are not the request's text (a live session
        reserves its allowance and commits what it spoke; nothing spoken releases the reservation)."""
        characters = spoken or (lambda: len(request.text))
        run = _Run(self.clock.monotonic(), generation_id)
        try:
            yield run
        except Exception as error:
            self.quotas.release(reservation)
            self.count(caller, request.language, characters(), "error")
            self.failed(caller, state, request, kind, run.generation_id, error, characters())
            raise
        except BaseException:
            self.quotas.release(reservation)
            self.count(caller, request.language, characters(), "error")
            raise
        if spoken is None:
            self.quotas.commit(reservation)
        elif characters():
            self.quotas.commit(reservation, characters())
        else:
            self.quotas.release(reservation)
        self.count(caller, request.language, characters(), "ok", self.clock.monotonic() - run.started)

    def synthesize(self, caller: Caller, request: SpeechRequest) -> SpeechResult:
        state, options, reservation = self.admit(caller, request)
        rate = self.rate_of(options)
        with self._settled(caller, request, state, reservation, "unary") as run:
            generation_id = run.generation_id = self.new_generation_id()
            segments = list(self.marked_segments(state, request.text, options, generation_id))
            samples = np.concatenate(segments) if segments else np.zeros(0, np.float32)
            audio = encode(samples, rate, request.format)
            seconds = len(samples) / rate
            with self.uow.begin() as repo:
                self.record(
                    repo,
                    caller,
                    state,
                    Spoken(
                        generation_id,
                        "unary",
                        request.language,
                        request.format,
                        len(request.text),
                        seconds,
                        self.clock.monotonic() - run.started,
                        reservation_id=reservation,
                    ),
                )
        return SpeechResult(generation_id, audio, request.format, rate, seconds)

    def encoded(self, segment: np.ndarray, encoder: StreamEncoder, run: _Run) -> Iterator[bytes]:
        """A marked segment's encoded bytes, if the codec has any yet; the first ones time the run's
        first chunk."""
        piece = encoder.encode(segment)
        if piece:
            if run.first_chunk_at is None:
                run.first_chunk_at = self.clock.monotonic() - run.started
                metrics.FIRST_CHUNK.labels(self.engine.name).observe(run.first_chunk_at)
            yield piece

    def stream(self, caller: Caller, request: SpeechRequest) -> tuple[int, Generator[bytes, None, None]]:
        """Checks and reserves now (errors before the first chunk); the iterator yields encoded
        pieces whose concatenation is one file. Usage is recorded only when the stream completes."""
        state, options, reservation = self.admit(caller, request)
        generation_id = self.numbered(reservation)
        live = replace(options, realtime=True)
        return generation_id, self._stream(caller, request, state, live, reservation, generation_id)

    def _stream(
        self,
        caller: Caller,
        request: SpeechRequest,
        state: VoiceState,
        options: SpeechOptions,
        reservation: str,
        generation_id: int,
    ) -> Generator[bytes, None, None]:
        rate = self.rate_of(options)
        encoder = StreamEncoder(request.format, rate)
        samples = 0
        with self._settled(caller, request, state, reservation, "stream", generation_id) as run:
            for segment in self.marked_segments(state, request.text, options, generation_id, growing=True):
                samples += len(segment)
                yield from self.encoded(segment, encoder, run)
            tail = encoder.finish()
            elapsed = self.clock.monotonic() - run.started
            with self.uow.begin() as repo:
                self.record(
                    repo,
                    caller,
                    state,
                    Spoken(
                        generation_id,
                        "stream",
                        request.language,
                        request.format,
                        len(request.text),
                        samples / rate,
                        elapsed,
                        first_chunk_seconds=elapsed if run.first_chunk_at is None else run.first_chunk_at,
                        reservation_id=reservation,
                    ),
                )
        if tail:
            yield tail
