"""EmbeddingService RPCs: authorise, call the service layer, convert."""

from __future__ import annotations

from datetime import UTC
from typing import cast

from kit.errors import InvalidArgument
from kit.grpc.auth import current_principal
from kit.grpc.convert import page_request, page_response, ts
from services.embedding.domain.voice import Consent, Voice
from services.embedding.grpc_api.uploads import collect
from services.embedding.service_layer.consent import Consents, ConsentTerms
from services.embedding.service_layer.voices import Voices
from timbre.v1 import embedding_pb2, embedding_pb2_grpc

STATUS = {
    "processing": embedding_pb2.VOICE_STATUS_PROCESSING,
    "ready": embedding_pb2.VOICE_STATUS_READY,
    "rejected": embedding_pb2.VOICE_STATUS_REJECTED,
    "disabled": embedding_pb2.VOICE_STATUS_DISABLED,
}
KINDS = {"spoken": embedding_pb2.CONSENT_KIND_SPOKEN, "written": embedding_pb2.CONSENT_KIND_WRITTEN}


def voice_message(row: Voice, consented: bool) -> embedding_pb2.Voice:
    return embedding_pb2.Voice(
        voice_id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        status=STATUS[row.status],
        status_reason=row.status_reason,
        status_detail=row.status_detail,
        speech_seconds=row.speech_seconds,
        has_active_consent=consented,
        encoder=row.encoder,
        create_time=ts(row.created_at),
        update_time=ts(row.updated_at),
        progress=row.progress,
    )


def consent_message(row: Consent) -> embedding_pb2.Consent:
    return embedding_pb2.Consent(
        consent_id=row.id,
        voice_id=row.voice_id,
        kind=KINDS[row.kind],
        details=embedding_pb2.ConsentDetails(
            owner_name=row.owner_name,
            purpose=row.purpose,
            expire_time=ts(row.expires_at),
            # proto3 enums are open: the stored numbers are the enum's values.
            prohibited_uses_acknowledged=cast("list[embedding_pb2.ProhibitedUse]", row.prohibited_uses),
            authorized_tenant_ids=row.authorized_tenant_ids,
        ),
        evidence_sha256=row.evidence_sha256,
        speaker_score=row.speaker_score or 0.0,
        phrase_verified=row.phrase_verified,
        create_time=ts(row.created_at),
        revoke_time=ts(row.revoked_at),
    )


def terms_of(details: embedding_pb2.ConsentDetails) -> ConsentTerms:
    if not details.HasField("expire_time"):
        raise InvalidArgument("details.expire_time is required")
    return ConsentTerms(
        owner_name=details.owner_name,
        purpose=details.purpose,
        expires_at=details.expire_time.ToDatetime(tzinfo=UTC),
        prohibited_uses=frozenset(details.prohibited_uses_acknowledged),
        authorized_tenant_ids=tuple(details.authorized_tenant_ids),
    )


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, voices: Voices, consents: Consents) -> None:
        self.voices = voices
        self.consents = consents

    def _voice(self, row: Voice) -> embedding_pb2.Voice:
        return voice_message(row, self.voices.has_consent(row.id))

    def EnrollVoice(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        policy = self.voices.policy
        metadata, files = collect(request_iterator, policy.max_total_bytes, policy.max_files)
        row = self.voices.enroll(
            tenant_id, metadata.name, files, metadata.transcript, metadata.language, metadata.idempotency_key
        )
        return embedding_pb2.EnrollVoiceResponse(voice=self._voice(row))

    def GetVoice(self, request, context):
        row = self.voices.get(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.GetVoiceResponse(voice=self._voice(row))

    def ListVoices(self, request, context):
        page = self.voices.list(current_principal().tenant_scope(), page_request(request.page))
        return embedding_pb2.ListVoicesResponse(voices=[self._voice(v) for v in page.items], page=page_response(page))

    def DeleteVoice(self, request, context):
        self.voices.delete(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.DeleteVoiceResponse()

    def VerifySpeaker(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        voice_id, files = collect(request_iterator, self.voices.policy.max_file_bytes, 1)
        if not files:
            raise InvalidArgument("audio is required")
        score, threshold = self.consents.verify(tenant_id, voice_id, files[0].data)
        return embedding_pb2.VerifySpeakerResponse(score=score, threshold=threshold, same_speaker=score >= threshold)

    def CreateConsentChallenge(self, request, context):
        row, statement = self.consents.challenge(current_principal().tenant_scope(), request.voice_id, request.language)
        return embedding_pb2.CreateConsentChallengeResponse(
            challenge_id=row.id, statement=statement, phrase=row.phrase, expire_time=ts(row.expires_at)
        )

    def SubmitConsent(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        metadata, files = collect(request_iterator, self.voices.policy.max_file_bytes, 1)
        if not files:
            raise InvalidArgument("the consent recording is required")
        row = self.consents.submit_spoken(
            tenant_id, metadata.voice_id, metadata.challenge_id, terms_of(metadata.details), files[0].data
        )
        return embedding_pb2.SubmitConsentResponse(consent=consent_message(row))

    def GrantWrittenConsent(self, request, context):
        principal = current_principal()
        principal.require_operator()
        tenant_id = self.voices.owner_of(request.voice_id)
        row = self.consents.grant_written(
            tenant_id, request.voice_id, request.document_sha256, terms_of(request.details)
        )
        return embedding_pb2.GrantWrittenConsentResponse(consent=consent_message(row))

    def RevokeConsent(self, request, context):
        row = self.consents.revoke(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.RevokeConsentResponse(consent=consent_message(row))

    def GetConsent(self, request, context):
        row = self.consents.get(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.GetConsentResponse(consent=consent_message(row))
