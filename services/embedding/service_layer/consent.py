"""Consent: spoken (challenge phrase, speaker verification, ASR for English) or written (operator).

Revocation disables the voice at once and, in the same transaction, deletes its data key (its
samples and consent recordings become unreadable, backups included) and tombstones its speaker-index
entry (the issue asks that no embedding of a revoked voice remains); the objects themselves are deleted
by the clean-up consumer of ConsentRevoked.

Every consent recorded gets the voice owner's private link (domain/owner_link.py): its token is on the
returned consent only, its SHA-256 in the record. The owner's side of the link is service_layer/owner_links.py.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from kit.audio.asr import recognise_slots
from kit.clock import Clock, SystemClock
from kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kit.events.topics import VOICE_LIFECYCLE
from kit.ids import is_uuid
from kit.storage import ObjectStore
from services.embedding.domain import audit, owner_link
from services.embedding.domain import consent as rules
from services.embedding.domain.audit import SYSTEM, Actor
from services.embedding.domain.voice import DISABLED, Challenge, Consent, Voice
from services.embedding.encoders.base import SAMPLE_RATE, cosine
from services.embedding.service_layer.analysis import Analyzer
from services.embedding.service_layer.audit import record as record_audit
from services.embedding.service_layer.ports import (
    PhraseRecogniser,
    Transaction,
    UnitOfWork,
    VoiceRepository,
    WatermarkDetector,
)
from services.embedding.service_layer.voices import Voices, consent_prefix
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

    def validate(self, now: datetime) -> None:
        if not 1 <= len(self.owner_name.strip()) <= 200:
            raise InvalidArgument("owner_name must be 1–200 characters")
        if not 1 <= len(self.purpose.strip()) <= 2000:
            raise InvalidArgument("purpose must be 1–2000 characters")
        if self.expires_at <= now:
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


@dataclass(frozen=True)
class Evidence:
    """What a consent rests on: the recording's or document's digest, and for spoken consent the checks."""

    sha256: str
    key: str | None = None
    speaker_score: float | None = None
    phrase_verified: bool = False


class Consents:
    def __init__(
        self,
        uow: UnitOfWork,
        store: ObjectStore,
        analyzer: Analyzer,
        voices: Voices,
        verify_threshold: float,
        challenge_ttl_seconds: int = 900,
        marker: WatermarkDetector | None = None,
        recogniser: PhraseRecogniser = recognise_slots,
        clock: Clock | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.analyzer = analyzer
        self.voices = voices
        self.verify_threshold = verify_threshold
        self.challenge_ttl = challenge_ttl_seconds
        # The deployment's watermark: a clone must not consent for its owner.
        self.marker = marker
        self.recogniser = recogniser
        self.clock: Clock = clock or SystemClock()

    @staticmethod
    def _ready_voice(
        repo: VoiceRepository, tenant_id: str, voice_id: str, for_update: bool = False
    ) -> tuple[Voice, np.ndarray]:
        """The voice and its embedding; consent and verification need an analysed, enabled voice."""
        voice = repo.voice(voice_id, tenant_id, for_update)
        if voice is None:
            raise NotFound("voice not found")
        if voice.status == DISABLED:
            raise FailedPrecondition(
                "consent for this voice was revoked and its samples deleted; enroll it again", reason="VOICE_NOT_READY"
            )
        if voice.embedding is None:
            raise FailedPrecondition(
                f"voice is {voice.status}; consent needs an analysed voice", reason="VOICE_NOT_READY"
            )
        return voice, voice.embedding

    def challenge(
        self, tenant_id: str, voice_id: str, language: str = "", actor: Actor = SYSTEM
    ) -> tuple[Challenge, str]:
        with self.uow.begin() as tx:
            voice, _ = self._ready_voice(tx.voices, tenant_id, voice_id)
            language = language or voice.language or "en"
            challenge = tx.voices.add_challenge(
                Challenge(
                    id=str(uuid.uuid4()),
                    voice_id=voice_id,
                    tenant_id=tenant_id,
                    phrase=rules.new_phrase(),
                    language=language,
                    expires_at=self.clock.now() + timedelta(seconds=self.challenge_ttl),
                )
            )
            record_audit(tx, tenant_id, audit.CHALLENGE_CREATED, actor, voice_id, challenge_id=challenge.id)
        return challenge, rules.statement(language, challenge.phrase)

    def submit_spoken(
        self,
        tenant_id: str,
        voice_id: str,
        challenge_id: str,
        terms: ConsentTerms,
        audio: bytes,
        actor: Actor = SYSTEM,
    ) -> Consent:
        terms.validate(self.clock.now())
        with self.uow.read() as tx:
            _, embedding = self._ready_voice(tx.voices, tenant_id, voice_id)
            challenge = tx.voices.challenge(challenge_id, voice_id, for_update=False) if is_uuid(challenge_id) else None
        if challenge is None:
            raise NotFound("consent challenge not found")
        if challenge.used_at is not None or challenge.expires_at <= self.clock.now():
            raise FailedPrecondition(
                "the consent challenge was used or has expired; ask for a new one", reason="CONSENT_REQUIRED"
            )
        try:
            score, verified = self._check_recording(challenge, embedding, audio)
        except PermissionDenied as refused:  # the refusal is part of the record too
            with self.uow.begin() as tx:
                record_audit(
                    tx,
                    tenant_id,
                    audit.CONSENT_REFUSED,
                    actor,
                    voice_id,
                    reason=refused.reason,
                    challenge_id=challenge_id,
                )
            raise
        digest = hashlib.sha256(audio).hexdigest()
        evidence_key = f"{consent_prefix(tenant_id, voice_id)}{challenge_id}"
        with self.uow.begin() as tx:  # voices enrolled before encryption at rest get their key here
            self._ready_voice(tx.voices, tenant_id, voice_id, for_update=True)  # a deletion cannot slip in between
            data_key = self.voices.vault.key_for(tx.data_keys, voice_id, tenant_id)
        self.voices.vault.put(data_key, evidence_key, audio, "application/octet-stream", {"sha256": digest})
        evidence = Evidence(digest, evidence_key, score, verified)
        with self.uow.begin() as tx:
            _, embedding = self._ready_voice(tx.voices, tenant_id, voice_id, for_update=True)  # as it is now
            locked = tx.voices.challenge(challenge_id, voice_id)
            if locked is None or locked.used_at is not None:
                raise FailedPrecondition("the consent challenge was already used", reason="CONSENT_REQUIRED")
            tx.voices.use_challenge(challenge_id, self.clock.now())
            return self._record(tx, tenant_id, voice_id, embedding, "spoken", terms, evidence, actor)

    def _check_recording(self, challenge: Challenge, embedding: np.ndarray, audio: bytes) -> tuple[float, bool]:
        """The recording's speaker score and whether its phrase was heard; PermissionDenied when refused."""
        vector, samples, _ = self.analyzer.probe("consent recording", audio)
        self._refuse_generated(samples)
        score = cosine(vector, embedding)
        if score < self.verify_threshold:
            raise PermissionDenied(
                f"the consent recording is not the voice's speaker (similarity {score:.2f}, "
                f"needs {self.verify_threshold:.2f})",
                reason="CONSENT_SPEAKER_MISMATCH",
            )
        verified = False
        if challenge.language == "en":
            heard = self.recogniser(samples, rules.statement_prefix("en"), rules.WORDS, len(challenge.phrase.split()))
            coverage = rules.phrase_match(challenge.phrase, heard)
            if coverage < MIN_PHRASE_COVERAGE:
                raise PermissionDenied(
                    f"the challenge phrase was not heard ({coverage:.0%} of its words)",
                    reason="CONSENT_PHRASE_MISMATCH",
                )
            verified = True
        return score, verified

    def _refuse_generated(self, samples_16k: np.ndarray) -> None:
        if self.marker is None:
            return
        if self.marker.detect(samples_16k, SAMPLE_RATE).watermarked:
            raise PermissionDenied(
                "the consent recording carries Timbre's watermark: it was generated, not spoken by the voice's owner",
                reason="CONSENT_WATERMARKED",
            )

    def grant_written(
        self, tenant_id: str, voice_id: str, document_sha256: str, terms: ConsentTerms, actor: Actor = SYSTEM
    ) -> Consent:
        terms.validate(self.clock.now())
        if not _SHA256.match(document_sha256 or ""):
            raise InvalidArgument("document_sha256 must be 64 lowercase hex characters")
        with self.uow.begin() as tx:
            _, embedding = self._ready_voice(tx.voices, tenant_id, voice_id, for_update=True)
            return self._record(tx, tenant_id, voice_id, embedding, "written", terms, Evidence(document_sha256), actor)

    def _record(
        self,
        tx: Transaction,
        tenant_id: str,
        voice_id: str,
        embedding: np.ndarray,
        kind: str,
        terms: ConsentTerms,
        evidence: Evidence,
        actor: Actor,
    ) -> Consent:
        now = self.clock.now()
        tx.voices.revoke_consents(voice_id, now)  # a new consent supersedes the previous one (and its link)
        token = owner_link.new_token()
        consent = tx.voices.add_consent(
            Consent(
                id=str(uuid.uuid4()),
                voice_id=voice_id,
                tenant_id=tenant_id,
                kind=kind,
                owner_name=terms.owner_name.strip(),
                purpose=terms.purpose.strip(),
                expires_at=terms.expires_at,
                prohibited_uses=sorted(terms.prohibited_uses),
                authorized_tenant_ids=list(terms.authorized_tenant_ids),
                evidence_sha256=evidence.sha256,
                evidence_key=evidence.key,
                speaker_score=evidence.speaker_score,
                phrase_verified=evidence.phrase_verified,
                created_at=now,
                owner_token_hash=owner_link.digest(token),
            )
        )
        granted = events_pb2.ConsentGranted(
            voice_id=voice_id,
            tenant_id=tenant_id,
            consent_id=consent.id,
            authorized_tenant_ids=list(terms.authorized_tenant_ids),
        )
        granted.expire_time.FromDatetime(terms.expires_at)
        tx.outbox.add(VOICE_LIFECYCLE, voice_id, granted, tenant_id=tenant_id)
        record_audit(tx, tenant_id, audit.CONSENT_GRANTED, actor, voice_id, consent.id, kind=kind)
        self.voices.publish_embedding(tx, voice_id, tenant_id, embedding, list(terms.authorized_tenant_ids))
        return replace(consent, owner_token=token)

    def revoke(self, tenant_id: str, voice_id: str, actor: Actor = SYSTEM) -> Consent:
        with self.uow.begin() as tx:
            voice = tx.voices.voice(voice_id, tenant_id, for_update=True)
            if voice is None:
                raise NotFound("voice not found")
            revoked = self.revoke_locked(tx, voice, actor)
        self.voices.index.remove(voice_id)
        return revoked

    def revoke_locked(self, tx: Transaction, voice: Voice, actor: Actor) -> Consent:
        """Revocation inside `tx`, whose caller locked `voice` (the tenant's DELETE and the owner link
        both come here): the consent revoked, the voice disabled and shredded, the event staged. The
        caller removes the voice from this replica's speaker index once `tx` has committed."""
        revoked = tx.voices.revoke_consents(voice.id, self.clock.now())
        if not revoked:
            raise NotFound("the voice has no active consent")
        tx.voices.save_voice(voice.disabled())
        record_audit(tx, voice.tenant_id, audit.CONSENT_REVOKED, actor, voice.id, revoked[0].id)
        tx.outbox.add(
            VOICE_LIFECYCLE,
            voice.id,
            events_pb2.ConsentRevoked(voice_id=voice.id, tenant_id=voice.tenant_id, consent_id=revoked[0].id),
            tenant_id=voice.tenant_id,
        )
        self.voices.shred(tx, voice.id)
        return revoked[0]

    def get(self, tenant_id: str, voice_id: str) -> Consent:
        with self.uow.read() as tx:
            voice = tx.voices.voice(voice_id, tenant_id)
            consent = tx.voices.latest_consent(voice_id) if voice else None
        if consent is None:
            raise NotFound("no consent recorded for this voice")
        return consent

    def verify(self, tenant_id: str, voice_id: str, audio: bytes, actor: Actor = SYSTEM) -> tuple[float, float]:
        with self.uow.read() as tx:
            _, embedding = self._ready_voice(tx.voices, tenant_id, voice_id)
        vector, _, _ = self.analyzer.probe("audio", audio)
        score = cosine(vector, embedding)
        with self.uow.begin() as tx:
            same = score >= self.verify_threshold
            record_audit(
                tx, tenant_id, audit.SPEAKER_VERIFIED, actor, voice_id, score=f"{score:.3f}", same_speaker=same
            )
        return score, self.verify_threshold
