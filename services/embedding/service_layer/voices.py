"""Voice enrollment: upload (synchronous checks, one normalised copy per file stored, event staged),
asynchronous analysis and duplicate check, the build's verdict, listing, deletion and clean-up."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import numpy as np

from kit.clock import Clock, SystemClock
from kit.crypto import DataKeyShredded, VoiceVault
from kit.errors import InvalidArgument, NotFound
from kit.events.topics import SPEAKER_INDEX, VOICE_LIFECYCLE
from kit.paging import Cursor, Page, PageRequest, page_of
from kit.storage import ObjectNotFound, ObjectStore
from kit.storage.keys import artifact_prefix, sample_prefix
from services.embedding.domain import audit
from services.embedding.domain.audio_checks import AudioPolicy, Rejection
from services.embedding.domain.audit import SYSTEM, Actor
from services.embedding.domain.duplicates import decide
from services.embedding.domain.voice import DISABLED, PROCESSING, Sample, Voice
from services.embedding.service_layer.analysis import NORMALISED_CONTENT_TYPE, NORMALISED_SUFFIX, Analyzer
from services.embedding.service_layer.audit import record as record_audit
from services.embedding.service_layer.ports import Quotas, SpeakerIndexPort, Transaction, UnitOfWork
from timbre.v1 import events_pb2

LANGUAGES = {"th", "en"}


def consent_prefix(tenant_id: str, voice_id: str) -> str:
    """Where a voice's spoken-consent recordings are kept (only this service reads them)."""
    return f"consents/{tenant_id}/{voice_id}/"


MAX_TRANSCRIPT = 20_000
ALREADY_REGISTERED = Rejection(
    "VOICE_ALREADY_REGISTERED",
    "this voice is already registered on Timbre; its owner has not consented to your account",
)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class EnrollmentRequest:
    """What the analysis of an enrollment needs (the VoiceEnrollmentRequested event's content)."""

    voice_id: str
    tenant_id: str
    sample_keys: list[str]
    transcript: str
    language: str


@dataclass(frozen=True)
class EnrollmentOutcome:
    embedding: np.ndarray | None
    speech_seconds: float
    rejection: Rejection | None
    duplicate_of: str | None = None


class Voices:
    def __init__(
        self,
        uow: UnitOfWork,
        store: ObjectStore,
        analyzer: Analyzer,
        index: SpeakerIndexPort,
        quotas: Quotas,
        threshold: float,
        ready_on_embedded: bool = True,
        clock: Clock | None = None,
        *,
        vault: VoiceVault,
    ) -> None:
        self.uow = uow
        self.store = store
        # Samples and consent recordings are sealed with the voice's data key (kit/crypto) in `store`.
        self.vault = vault
        self.analyzer = analyzer
        self.index = index
        self.quotas = quotas
        self.threshold = threshold
        self.ready_on_embedded = ready_on_embedded
        self.clock: Clock = clock or SystemClock()

    @property
    def policy(self) -> AudioPolicy:
        return self.analyzer.policy

    # --- upload --------------------------------------------------------------------------------

    def enroll(
        self,
        tenant_id: str,
        name: str,
        files: list[Upload],
        transcript: str = "",
        language: str = "th",
        idempotency_key: str = "",
        actor: Actor = SYSTEM,
    ) -> Voice:
        name = (name or "").strip()
        language = language or "th"
        self._check_request(name, files, transcript, language)
        if idempotency_key:
            with self.uow.read() as tx:
                existing = tx.voices.voice_by_idempotency(tenant_id, idempotency_key)
            if existing is not None:
                return existing
        clips = [self.analyzer.decode_upload(f.filename or f"file{i}", f.data) for i, f in enumerate(files)]
        if sum(c.seconds for c in clips) > self.policy.max_total_seconds:
            raise InvalidArgument(
                f"the files exceed {self.policy.max_total_seconds:.0f} s in total", reason="AUDIO_TOO_LARGE"
            )

        voice_id = str(uuid.uuid4())
        reservation = self.quotas.reserve(
            tenant_id, voice_profiles=1, voice_id=voice_id, idempotency_key=f"voice:{voice_id}", ttl_seconds=24 * 3600
        )
        keys: list[str] = []
        data_key, wrapped_key = self.vault.new_key(voice_id, tenant_id)  # stored with the voice row
        try:
            samples = []
            for i, (upload, clip) in enumerate(zip(files, clips, strict=True)):
                digest = hashlib.sha256(upload.data).hexdigest()
                key = f"{sample_prefix(tenant_id, voice_id)}{i:02d}-{digest[:16]}{NORMALISED_SUFFIX}"
                keys.append(key)
                normalised = self.analyzer.normalised(clip)
                self.vault.put(data_key, key, normalised, NORMALISED_CONTENT_TYPE, {"filename": upload.filename[:200]})
                samples.append(
                    Sample(
                        voice_id,
                        i,
                        key,
                        upload.filename[:300] or f"file{i}",
                        digest,
                        len(upload.data),
                        clip.seconds,
                        clip.native_rate,
                        clip.codec,
                    )  # fmt: skip
                )
            now = self.clock.now()
            with self.uow.begin() as tx:
                voice = tx.voices.add_voice(
                    Voice(
                        id=voice_id,
                        tenant_id=tenant_id,
                        name=name,
                        status=PROCESSING,
                        created_at=now,
                        updated_at=now,
                        transcript=transcript,
                        language=language,
                        reservation_id=reservation,
                        idempotency_key=idempotency_key or None,
                        progress=0.1,
                    )
                )
                for sample in samples:
                    tx.voices.add_sample(sample)
                record_audit(tx, tenant_id, audit.ENROLLMENT_REQUESTED, actor, voice_id, files=len(files))
                tx.data_keys.add_data_key(wrapped_key)
                tx.outbox.add(
                    VOICE_LIFECYCLE,
                    voice_id,
                    events_pb2.VoiceEnrollmentRequested(
                        voice_id=voice_id,
                        tenant_id=tenant_id,
                        sample_keys=keys,
                        transcript=transcript,
                        language=language,
                    ),
                    tenant_id=tenant_id,
                )
            return voice
        except BaseException:
            for key in keys:  # nothing is half-stored (deleting a key never written is harmless)
                self.store.delete(key)
            self.quotas.release(reservation)
            raise

    def _check_request(self, name: str, files: list[Upload], transcript: str, language: str) -> None:
        if not 1 <= len(name) <= 200:
            raise InvalidArgument("name must be 1–200 characters")
        if language not in LANGUAGES:
            raise InvalidArgument(f"language must be one of {', '.join(sorted(LANGUAGES))}")
        if len(transcript) > MAX_TRANSCRIPT:
            raise InvalidArgument(f"transcript is longer than {MAX_TRANSCRIPT} characters")
        if not files:
            raise InvalidArgument("at least one audio file is required", reason="AUDIO_TOO_SHORT")
        if len(files) > self.policy.max_files:
            raise InvalidArgument(f"at most {self.policy.max_files} files per voice", reason="AUDIO_TOO_LARGE")
        if sum(len(f.data) for f in files) > self.policy.max_total_bytes:
            raise InvalidArgument(
                f"the files exceed {self.policy.max_total_bytes} bytes in total", reason="AUDIO_TOO_LARGE"
            )

    # --- asynchronous analysis (consumer of VoiceEnrollmentRequested) ------------------------------

    def analyse_enrollment(self, request: EnrollmentRequest) -> EnrollmentOutcome | None:
        """The heavy part, outside any transaction: read the normalised copies, check, embed, look up the index."""
        with self.uow.read() as tx:
            voice = tx.voices.voice(request.voice_id)
            samples = tx.voices.samples(request.voice_id) if voice else []
            wrapped = tx.data_keys.data_key(request.voice_id)
        if voice is None or not voice.awaiting_verdict:
            return None  # deleted meanwhile, or already analysed
        try:
            files = [
                (s.filename, self.analyzer.load_normalised(self.vault.get(wrapped, s.object_key))) for s in samples
            ]
        except (ObjectNotFound, DataKeyShredded):
            return None  # deleted meanwhile
        analysis = self.analyzer.analyse(files)
        if analysis.rejection or analysis.embedding is None:
            return EnrollmentOutcome(None, analysis.speech_seconds, analysis.rejection)
        matches = self.index.search(analysis.embedding, self.threshold)
        decision = decide(matches, request.tenant_id, request.voice_id, self.threshold)
        if decision.blocked_by:
            return EnrollmentOutcome(None, analysis.speech_seconds, ALREADY_REGISTERED)
        duplicate = decision.same_tenant.voice_id if decision.same_tenant else None
        return EnrollmentOutcome(analysis.embedding, analysis.speech_seconds, None, duplicate)

    def apply_enrollment(self, tx: Transaction, request: EnrollmentRequest, outcome: EnrollmentOutcome | None) -> None:
        """The analysis's verdict, in the consumer's transaction (so a redelivery finds it applied)."""
        voice = tx.voices.voice(request.voice_id, for_update=True)
        if outcome is None or voice is None or not voice.awaiting_verdict:
            return
        tenant = request.tenant_id
        if outcome.rejection or outcome.embedding is None:
            rejection = outcome.rejection or Rejection("INTERNAL", "the analysis produced no embedding")
            verdict = voice.rejected(rejection.reason, rejection.detail, speech_seconds=outcome.speech_seconds)
            tx.voices.save_voice(verdict)
            record_audit(tx, tenant, audit.VOICE_REJECTED, SYSTEM, voice.id, reason=rejection.reason)
            tx.outbox.add(
                VOICE_LIFECYCLE,
                voice.id,
                events_pb2.VoiceRejected(
                    voice_id=voice.id, tenant_id=tenant, reason=rejection.reason, detail=rejection.detail
                ),
                tenant_id=tenant,
            )
            return
        encoder = self.analyzer.encoder.name
        tx.voices.save_voice(
            voice.embedded(
                outcome.embedding, encoder, outcome.speech_seconds, outcome.duplicate_of, built=self.ready_on_embedded
            )  # fmt: skip
        )
        tx.outbox.add(
            VOICE_LIFECYCLE,
            voice.id,
            events_pb2.VoiceEmbedded(
                voice_id=voice.id,
                tenant_id=tenant,
                encoder=encoder,
                speech_seconds=outcome.speech_seconds,
                sample_keys=list(request.sample_keys),  # the normalised copies: the build reads these
                transcript=request.transcript,
                language=request.language,
            ),
            tenant_id=tenant,
        )
        self.publish_embedding(tx, voice.id, tenant, outcome.embedding, [])
        if self.ready_on_embedded:  # no build follows: the voice is ready now
            record_audit(tx, tenant, audit.VOICE_READY, SYSTEM, voice.id)

    def publish_embedding(
        self, tx: Transaction, voice_id: str, tenant_id: str, vector: np.ndarray, authorized: list[str]
    ) -> None:
        """The voice's entry in the compacted speaker-index topic (latest value wins)."""
        tx.outbox.add(
            SPEAKER_INDEX,
            voice_id,
            events_pb2.VoiceEmbedding(
                voice_id=voice_id,
                tenant_id=tenant_id,
                encoder=self.analyzer.encoder.name,
                vector=vector.tolist(),
                authorized_tenant_ids=authorized,
            ),
            tenant_id=tenant_id,
        )

    # --- the voice's own lifecycle events (each use case is idempotent: events are redelivered) ----

    def voice_built(self, tx: Transaction, voice_id: str) -> None:
        """Synthesis built the voice (VoiceReady): it becomes ready, unless it changed meanwhile."""
        voice = tx.voices.voice(voice_id, for_update=True)
        if voice is not None and voice.awaiting_verdict:
            tx.voices.save_voice(voice.built())
            record_audit(tx, voice.tenant_id, audit.VOICE_READY, SYSTEM, voice_id)

    def voice_build_failed(self, tx: Transaction, voice_id: str, reason: str, detail: str) -> None:
        """Synthesis could not build the voice (VoiceBuildFailed): it is rejected with the build's reason."""
        voice = tx.voices.voice(voice_id, for_update=True)
        if voice is not None and voice.awaiting_verdict:
            tx.voices.save_voice(voice.rejected(reason or "INTERNAL", f"the voice could not be built: {detail}"))
            record_audit(tx, voice.tenant_id, audit.VOICE_REJECTED, SYSTEM, voice_id, reason=reason or "INTERNAL")

    def voice_embedded(self, tx: Transaction, voice_id: str) -> None:
        """The voice profile is taken for good (committing a committed reservation changes nothing)."""
        voice = tx.voices.voice(voice_id)
        if voice is not None and voice.reservation_id:
            self.quotas.commit(voice.reservation_id)

    def voice_rejected(self, tx: Transaction, tenant_id: str, voice_id: str) -> int:
        """A rejected voice keeps no files (nor their key) and gives its voice profile back; the number of
        files removed."""
        tx.data_keys.delete_data_key(voice_id)
        removed = self.purge_files(tenant_id, voice_id)
        self._release_reservation(tx, voice_id)
        return removed

    def voice_deleted(self, tx: Transaction, tenant_id: str, voice_id: str) -> None:
        self.purge_files(tenant_id, voice_id)
        self._release_reservation(tx, voice_id)  # in case it was still pending
        self.quotas.release_voice_profile(tenant_id, voice_id)

    def consent_revoked(self, tenant_id: str, voice_id: str) -> None:
        """Revocation deletes the voice's samples, consent recordings and artifacts (their key is already gone)."""
        self.purge_files(tenant_id, voice_id)

    def _release_reservation(self, tx: Transaction, voice_id: str) -> None:
        reservation = tx.voices.reservation_of(voice_id)
        if reservation:
            self.quotas.release(reservation)

    def purge_files(self, tenant_id: str, voice_id: str) -> int:
        """Best effort: the data key's deletion already made these unreadable, here and in every backup."""
        prefixes = (sample_prefix(tenant_id, voice_id), consent_prefix(tenant_id, voice_id))
        removed = sum(self.store.delete_prefix(prefix) for prefix in prefixes)
        return removed + self.store.delete_prefix(artifact_prefix(tenant_id, voice_id))

    def shred(self, tx: Transaction, voice_id: str) -> None:
        """Deletion or revocation, in the transaction of the status change: the voice's data key is deleted
        (its objects become unreadable everywhere) and its speaker-index entry tombstoned (every replica
        and the compacted topic drop the embedding)."""
        tx.data_keys.delete_data_key(voice_id)
        tx.outbox.add_tombstone(SPEAKER_INDEX, voice_id)

    # --- reads and deletion ------------------------------------------------------------------------

    def get(self, tenant_id: str, voice_id: str) -> Voice:
        with self.uow.read() as tx:
            voice = tx.voices.voice(voice_id, tenant_id)
        if voice is None:
            raise NotFound("voice not found")
        return voice

    def owner_of(self, voice_id: str) -> str:
        """The tenant of a voice (operator calls name a voice, not a tenant)."""
        with self.uow.read() as tx:
            voice = tx.voices.voice(voice_id)
        if voice is None:
            raise NotFound("voice not found")
        return voice.tenant_id

    def read_sample(self, voice_id: str, object_key: str) -> bytes:
        """One of the voice's samples in plaintext, for the build (synthesis cannot open them: the key is
        this service's). Gone with the voice: deleted, revoked or never one of its samples → NotFound."""
        with self.uow.read() as tx:
            voice = tx.voices.voice(voice_id)
            keys = {s.object_key for s in tx.voices.samples(voice_id)} if voice else set()
            wrapped = tx.data_keys.data_key(voice_id)
        if voice is None or voice.status == DISABLED or object_key not in keys:
            raise NotFound("sample not found")
        try:
            return self.vault.get(wrapped, object_key)
        except (ObjectNotFound, DataKeyShredded):
            raise NotFound("sample not found") from None

    def has_consent(self, voice_id: str) -> bool:
        with self.uow.read() as tx:
            return tx.voices.active_consent(voice_id, self.clock.now()) is not None

    def list(self, tenant_id: str, page: PageRequest) -> Page[Voice]:
        with self.uow.read() as tx:
            voices = tx.voices.list_voices(tenant_id, page)
        return page_of(voices, page, lambda v: Cursor(v.created_at, v.id))

    def delete(self, tenant_id: str, voice_id: str, actor: Actor = SYSTEM) -> None:
        with self.uow.begin() as tx:
            voice = tx.voices.voice(voice_id, tenant_id, for_update=True)
            if voice is None:
                raise NotFound("voice not found")
            tx.voices.save_voice(voice.deleted())
            record_audit(tx, tenant_id, audit.VOICE_DELETED, actor, voice_id)
            tx.voices.revoke_consents(voice_id, self.clock.now())
            tx.outbox.add(
                VOICE_LIFECYCLE,
                voice_id,
                events_pb2.VoiceDeleted(voice_id=voice_id, tenant_id=tenant_id),
                tenant_id=tenant_id,
            )
            self.shred(tx, voice_id)
        self.index.remove(voice_id)
