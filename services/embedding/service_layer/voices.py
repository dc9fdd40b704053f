"""Voice enrollment: upload (synchronous checks, samples stored, event staged), asynchronous analysis
and duplicate check, listing, deletion."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Row

from kit.db.engine import UnitOfWork
from kit.errors import InvalidArgument, NotFound
from kit.events.outbox import Outbox
from kit.events.topics import SPEAKER_INDEX, VOICE_LIFECYCLE
from kit.storage import ObjectNotFound, ObjectStore
from kit.storage.keys import artifact_prefix, sample_prefix
from services.embedding.domain.audio_checks import AudioPolicy, Rejection
from services.embedding.domain.duplicates import decide
from services.embedding.index.speaker_index import SpeakerIndex
from services.embedding.service_layer.analysis import Analyzer
from services.embedding.storage import repository as repo
from timbre.v1 import events_pb2

LANGUAGES = {"th", "en"}
MAX_TRANSCRIPT = 20_000


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


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
        outbox: Outbox,
        store: ObjectStore,
        analyzer: Analyzer,
        index: SpeakerIndex,
        quotas,
        threshold: float,
        ready_on_embedded: bool = True,
    ) -> None:
        self.uow = uow
        self.outbox = outbox
        self.store = store
        self.analyzer = analyzer
        self.index = index
        self.quotas = quotas  # kit.clients.tenancy.TenancyClient (or a stand-in with the same calls)
        self.threshold = threshold
        self.ready_on_embedded = ready_on_embedded

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
    ) -> Row:
        name = (name or "").strip()
        language = language or "th"
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
        if idempotency_key:
            with self.uow.read() as conn:
                existing = repo.voice_by_idempotency(conn, tenant_id, idempotency_key)
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
        keys = []
        digests = [hashlib.sha256(upload.data).hexdigest() for upload in files]
        try:
            for i, (upload, digest) in enumerate(zip(files, digests, strict=True)):
                key = f"{sample_prefix(tenant_id, voice_id)}{i:02d}-{digest[:16]}"
                self.store.put(key, upload.data, "application/octet-stream", {"filename": upload.filename[:200]})
                keys.append(key)
            with self.uow.begin() as conn:
                row = repo.add_voice(
                    conn,
                    id=voice_id,
                    tenant_id=tenant_id,
                    name=name,
                    status="processing",
                    transcript=transcript,
                    language=language,
                    reservation_id=reservation,
                    idempotency_key=idempotency_key or None,
                    progress=0.1,
                )
                for i, (upload, clip, key, digest) in enumerate(zip(files, clips, keys, digests, strict=True)):
                    repo.add_sample(
                        conn,
                        voice_id=voice_id,
                        index=i,
                        object_key=key,
                        filename=upload.filename[:300] or f"file{i}",
                        sha256=digest,
                        bytes=len(upload.data),
                        seconds=clip.seconds,
                        native_rate=clip.native_rate,
                        codec=clip.codec,
                    )
                self.outbox.add(
                    conn,
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
            return row
        except BaseException:
            for key in keys:  # nothing is half-stored
                self.store.delete(key)
            self.quotas.release(reservation)
            raise

    # --- asynchronous analysis (consumer of VoiceEnrollmentRequested) ------------------------------

    def analyse_enrollment(self, event: events_pb2.VoiceEnrollmentRequested) -> EnrollmentOutcome | None:
        """The heavy part, outside any transaction: decode, check, embed, look up the index."""
        with self.uow.read() as conn:
            row = repo.voice(conn, event.voice_id)
            sample_rows = repo.sample_rows(conn, event.voice_id) if row else []
        if row is None or row.status != "processing":
            return None  # deleted meanwhile, or already analysed
        try:
            files = [
                (s.filename, self.analyzer.decode_upload(s.filename, self.store.get(s.object_key)).samples)
                for s in sample_rows
            ]
        except ObjectNotFound:
            return None  # deleted meanwhile
        analysis = self.analyzer.analyse(files)
        if analysis.rejection:
            return EnrollmentOutcome(None, analysis.speech_seconds, analysis.rejection)
        matches = self.index.search(analysis.embedding, self.threshold)
        decision = decide(matches, event.tenant_id, event.voice_id, self.threshold)
        if decision.blocked_by:
            return EnrollmentOutcome(
                None,
                analysis.speech_seconds,
                Rejection(
                    "VOICE_ALREADY_REGISTERED",
                    "this voice is already registered on Timbre; its owner has not consented to your account",
                ),
            )
        duplicate = decision.same_tenant.voice_id if decision.same_tenant else None
        return EnrollmentOutcome(analysis.embedding, analysis.speech_seconds, None, duplicate)

    def apply_enrollment(
        self, conn: Connection, event: events_pb2.VoiceEnrollmentRequested, outcome: EnrollmentOutcome | None
    ) -> None:
        row = repo.voice(conn, event.voice_id, for_update=True)
        if outcome is None or row is None or row.status != "processing":
            return
        tenant = event.tenant_id
        if outcome.rejection:
            repo.set_status(
                conn,
                row.id,
                "rejected",
                outcome.rejection.reason,
                outcome.rejection.detail,
                speech_seconds=outcome.speech_seconds,
                progress=1.0,
            )
            self.outbox.add(
                conn,
                VOICE_LIFECYCLE,
                row.id,
                events_pb2.VoiceRejected(
                    voice_id=row.id, tenant_id=tenant, reason=outcome.rejection.reason, detail=outcome.rejection.detail
                ),
                tenant_id=tenant,
            )
            return
        detail = f"this tenant already has the same voice: {outcome.duplicate_of}" if outcome.duplicate_of else ""
        status = "ready" if self.ready_on_embedded else "processing"
        repo.set_status(
            conn,
            row.id,
            status,
            "",
            detail,
            speech_seconds=outcome.speech_seconds,
            encoder=self.analyzer.encoder.name,
            embedding=outcome.embedding.astype(np.float32).tobytes(),
            duplicate_of=outcome.duplicate_of,
            progress=1.0 if self.ready_on_embedded else 0.5,
        )
        self.outbox.add(
            conn,
            VOICE_LIFECYCLE,
            row.id,
            events_pb2.VoiceEmbedded(
                voice_id=row.id,
                tenant_id=tenant,
                encoder=self.analyzer.encoder.name,
                speech_seconds=outcome.speech_seconds,
                sample_keys=list(event.sample_keys),
                transcript=event.transcript,
                language=event.language,
            ),
            tenant_id=tenant,
        )
        self.publish_embedding(conn, row.id, tenant, outcome.embedding, [])

    def publish_embedding(
        self, conn: Connection, voice_id: str, tenant_id: str, vector: np.ndarray, authorized: list[str]
    ) -> None:
        """The voice's entry in the compacted speaker-index topic (latest value wins)."""
        self.outbox.add(
            conn,
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

    # --- reads and deletion ------------------------------------------------------------------------

    def get(self, tenant_id: str, voice_id: str) -> Row:
        with self.uow.read() as conn:
            row = repo.voice(conn, voice_id, tenant_id)
        if row is None:
            raise NotFound("voice not found")
        return row

    def owner_of(self, voice_id: str) -> str:
        """The tenant of a voice (operator calls name a voice, not a tenant)."""
        with self.uow.read() as conn:
            row = repo.voice(conn, voice_id)
        if row is None:
            raise NotFound("voice not found")
        return row.tenant_id

    def has_consent(self, voice_id: str) -> bool:
        with self.uow.read() as conn:
            return repo.active_consent(conn, voice_id) is not None

    def list(self, tenant_id: str, after, limit: int) -> list[Row]:
        with self.uow.read() as conn:
            return repo.list_voices(conn, tenant_id, after, limit)

    def delete(self, tenant_id: str, voice_id: str) -> None:
        with self.uow.begin() as conn:
            row = repo.voice(conn, voice_id, tenant_id, for_update=True)
            if row is None:
                raise NotFound("voice not found")
            repo.set_status(conn, voice_id, "deleted", embedding=None)
            repo.revoke_consents(conn, voice_id)
            self.outbox.add(
                conn,
                VOICE_LIFECYCLE,
                voice_id,
                events_pb2.VoiceDeleted(voice_id=voice_id, tenant_id=tenant_id),
                tenant_id=tenant_id,
            )
            self.outbox.add_tombstone(conn, SPEAKER_INDEX, voice_id)
        self.index.remove(voice_id)

    # --- clean-up (consumer of the voice's own lifecycle events; every step is idempotent) ---------

    def purge_files(self, tenant_id: str, voice_id: str) -> int:
        return self.store.delete_prefix(sample_prefix(tenant_id, voice_id)) + self.store.delete_prefix(
            artifact_prefix(tenant_id, voice_id)
        )
