"""Consent: spoken (challenge phrase, speaker verification, ASR for English) or written (operator).

Revocation disables the voice at once; its samples and artifacts are deleted by the clean-up
consumer of ConsentRevoked. The voice stays in the speaker index, so its owner stays protected
against other tenants cloning them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row

from kit.audio.asr import recognise_slots
from kit.db.engine import UnitOfWork
from kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kit.events.outbox import Outbox
from kit.events.topics import VOICE_LIFECYCLE
from kit.grpc.convert import ts
from kit.ids import is_uuid
from kit.storage import ObjectStore
from services.embedding.domain import consent as rules
from services.embedding.encoders.base import cosine
from services.embedding.service_layer.analysis import Analyzer
from services.embedding.service_layer.voices import Voices
from services.embedding.storage import repository as repo
from timbre.v1 import events_pb2

MIN_PHRASE_COVERAGE = 0.75
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ConsentTerms:
    owner_name: str
    purpose: str
    expires_at: datetime
    prohibited_uses: frozenset[int]
    authorized_tenant_ids: tuple[str, ...]

    def validate(self) -> None:
        if not 1 <= len(self.owner_name.strip()) <= 200:
            raise InvalidArgument("owner_name must be 1–200 characters")
        if not 1 <= len(self.purpose.strip()) <= 2000:
            raise InvalidArgument("purpose must be 1–2000 characters")
        if self.expires_at <= datetime.now(UTC):
            raise InvalidArgument("expire_time must be in the future")
        missing = rules.ALL_PROHIBITED_USES - self.prohibited_uses
        if missing:
            raise InvalidArgument(
                "every prohibited use must be acknowledged",
                reason="CONSENT_REQUIRED",
                missing=",".join(str(m) for m in sorted(missing)),
            )
        if any(not is_uuid(t) for t in self.authorized_tenant_ids):
            raise InvalidArgument("authorized_tenant_ids must be tenant ids")


class Consents:
    def __init__(
        self,
        uow: UnitOfWork,
        outbox: Outbox,
        store: ObjectStore,
        analyzer: Analyzer,
        voices: Voices,
        verify_threshold: float,
        challenge_ttl_seconds: int = 900,
        marker=None,
    ) -> None:
        self.uow = uow
        self.outbox = outbox
        self.store = store
        self.analyzer = analyzer
        self.voices = voices
        self.verify_threshold = verify_threshold
        self.challenge_ttl = challenge_ttl_seconds
        # kit.watermark.Watermarker with the deployment key: a clone must not consent for its owner.
        self.marker = marker

    def _ready_voice(self, conn, tenant_id: str, voice_id: str, for_update: bool = False) -> Row:
        row = repo.voice(conn, voice_id, tenant_id, for_update)
        if row is None:
            raise NotFound("voice not found")
        if row.status == "disabled":
            raise FailedPrecondition(
                "consent for this voice was revoked and its samples deleted; enroll it again", reason="VOICE_NOT_READY"
            )
        if row.embedding is None:
            raise FailedPrecondition(
                f"voice is {row.status}; consent needs an analysed voice", reason="VOICE_NOT_READY"
            )
        return row

    def challenge(self, tenant_id: str, voice_id: str, language: str = "") -> tuple[Row, str]:
        with self.uow.begin() as conn:
            voice = self._ready_voice(conn, tenant_id, voice_id)
            language = language or voice.language or "en"
            row = repo.add_challenge(
                conn,
                id=str(uuid.uuid4()),
                voice_id=voice_id,
                tenant_id=tenant_id,
                phrase=rules.new_phrase(),
                language=language,
                expires_at=datetime.now(UTC) + timedelta(seconds=self.challenge_ttl),
            )
        return row, rules.statement(language, row.phrase)

    def submit_spoken(self, tenant_id: str, voice_id: str, challenge_id: str, terms: ConsentTerms, audio: bytes) -> Row:
        terms.validate()
        with self.uow.read() as conn:
            voice = self._ready_voice(conn, tenant_id, voice_id)
            challenge = (
                repo.challenge(conn, challenge_id, voice_id, for_update=False) if is_uuid(challenge_id) else None
            )
        if challenge is None:
            raise NotFound("consent challenge not found")
        if challenge.used_at is not None or challenge.expires_at <= datetime.now(UTC):
            raise FailedPrecondition(
                "the consent challenge was used or has expired; ask for a new one", reason="CONSENT_REQUIRED"
            )
        vector, samples, _ = self.analyzer.probe("consent recording", audio)
        self._refuse_generated(samples)
        score = cosine(vector, repo.embedding_of(voice))
        if score < self.verify_threshold:
            raise PermissionDenied(
                f"the consent recording is not the voice's speaker (similarity {score:.2f}, "
                f"needs {self.verify_threshold:.2f})",
                reason="CONSENT_SPEAKER_MISMATCH",
            )
        verified = False
        if challenge.language == "en":
            heard = recognise_slots(samples, rules.statement_prefix("en"), rules.WORDS, len(challenge.phrase.split()))
            coverage = rules.phrase_match(challenge.phrase, heard)
            if coverage < MIN_PHRASE_COVERAGE:
                raise PermissionDenied(
                    f"the challenge phrase was not heard ({coverage:.0%} of its words)",
                    reason="CONSENT_PHRASE_MISMATCH",
                )
            verified = True
        digest = hashlib.sha256(audio).hexdigest()
        evidence_key = f"consents/{tenant_id}/{voice_id}/{challenge_id}"
        self.store.put(evidence_key, audio, "application/octet-stream", {"sha256": digest})
        with self.uow.begin() as conn:
            challenge = repo.challenge(conn, challenge_id, voice_id)
            if challenge.used_at is not None:
                raise FailedPrecondition("the consent challenge was already used", reason="CONSENT_REQUIRED")
            repo.use_challenge(conn, challenge_id)
            return self._record(conn, tenant_id, voice_id, "spoken", terms, digest, evidence_key, score, verified)

    def _refuse_generated(self, samples_16k) -> None:
        if self.marker is None:
            return
        found = self.marker.detect(samples_16k, 16000)
        if found.watermarked:
            raise PermissionDenied(
                "the consent recording carries Timbre's watermark: it was generated, not spoken by the voice's owner",
                reason="CONSENT_WATERMARKED",
            )

    def grant_written(self, tenant_id: str, voice_id: str, document_sha256: str, terms: ConsentTerms) -> Row:
        terms.validate()
        if not _SHA256.match(document_sha256 or ""):
            raise InvalidArgument("document_sha256 must be 64 lowercase hex characters")
        with self.uow.begin() as conn:
            self._ready_voice(conn, tenant_id, voice_id, for_update=True)
            return self._record(conn, tenant_id, voice_id, "written", terms, document_sha256, None, None, False)

    def _record(
        self, conn, tenant_id, voice_id, kind, terms: ConsentTerms, digest, evidence_key, score, verified
    ) -> Row:
        repo.revoke_consents(conn, voice_id)  # a new consent supersedes the previous one
        row = repo.add_consent(
            conn,
            id=str(uuid.uuid4()),
            voice_id=voice_id,
            tenant_id=tenant_id,
            kind=kind,
            owner_name=terms.owner_name.strip(),
            purpose=terms.purpose.strip(),
            expires_at=terms.expires_at,
            prohibited_uses=sorted(terms.prohibited_uses),
            authorized_tenant_ids=list(terms.authorized_tenant_ids),
            evidence_sha256=digest,
            evidence_key=evidence_key,
            speaker_score=score,
            phrase_verified=verified,
        )
        voice = repo.voice(conn, voice_id, tenant_id)
        self.outbox.add(
            conn,
            VOICE_LIFECYCLE,
            voice_id,
            events_pb2.ConsentGranted(
                voice_id=voice_id,
                tenant_id=tenant_id,
                consent_id=row.id,
                expire_time=ts(terms.expires_at),
                authorized_tenant_ids=list(terms.authorized_tenant_ids),
            ),
            tenant_id=tenant_id,
        )
        self.voices.publish_embedding(
            conn, voice_id, tenant_id, repo.embedding_of(voice), list(terms.authorized_tenant_ids)
        )
        return row

    def revoke(self, tenant_id: str, voice_id: str) -> Row:
        with self.uow.begin() as conn:
            voice = repo.voice(conn, voice_id, tenant_id, for_update=True)
            if voice is None:
                raise NotFound("voice not found")
            revoked = repo.revoke_consents(conn, voice_id)
            if not revoked:
                raise NotFound("the voice has no active consent")
            repo.set_status(conn, voice_id, "disabled", "CONSENT_REQUIRED", "consent was revoked")
            self.outbox.add(
                conn,
                VOICE_LIFECYCLE,
                voice_id,
                events_pb2.ConsentRevoked(voice_id=voice_id, tenant_id=tenant_id, consent_id=revoked[0].id),
                tenant_id=tenant_id,
            )
            if voice.embedding is not None:
                self.voices.publish_embedding(conn, voice_id, tenant_id, repo.embedding_of(voice), [])
            return revoked[0]

    def get(self, tenant_id: str, voice_id: str) -> Row:
        with self.uow.read() as conn:
            voice = repo.voice(conn, voice_id, tenant_id)
            row = repo.latest_consent(conn, voice_id) if voice else None
        if row is None:
            raise NotFound("no consent recorded for this voice")
        return row

    def verify(self, tenant_id: str, voice_id: str, audio: bytes) -> tuple[float, float]:
        with self.uow.read() as conn:
            voice = self._ready_voice(conn, tenant_id, voice_id)
        vector, _, _ = self.analyzer.probe("audio", audio)
        return cosine(vector, repo.embedding_of(voice)), self.verify_threshold
