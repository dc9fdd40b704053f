"""EmbeddingService RPCs: authorise, call the service layer, convert."""

from __future__ import annotations

from datetime import UTC
from typing import cast

from kit.errors import InvalidArgument
from kit.grpc.auth import current_principal
from kit.grpc.client_address import forwarded_address, peer_host
from kit.grpc.convert import page_request, page_response, ts
from kit.logging import current
from services.embedding.domain import owner_link
from services.embedding.domain.audit import OWNER, Actor, AuditEvent
from services.embedding.domain.owner_link import OwnerView
from services.embedding.domain.voice import Consent, Voice
from services.embedding.grpc_api.uploads import collect
from services.embedding.service_layer.audit import AuditTrail
from services.embedding.service_layer.consent import Consents, ConsentTerms
from services.embedding.service_layer.owner_links import OwnerLinks
from services.embedding.service_layer.voices import Voices
from timbre.v1 import embedding_pb2, embedding_pb2_grpc

STATUS = {
    "processing": embedding_pb2.VOICE_STATUS_PROCESSING,
    "ready": embedding_pb2.VOICE_STATUS_READY,
    "rejected": embedding_pb2.VOICE_STATUS_REJECTED,
    "disabled": embedding_pb2.VOICE_STATUS_DISABLED,
}
KINDS = {"spoken": embedding_pb2.CONSENT_KIND_SPOKEN, "written": embedding_pb2.CONSENT_KIND_WRITTEN}
CONSENT_STATUS = {
    owner_link.ACTIVE: embedding_pb2.CONSENT_STATUS_ACTIVE,
    owner_link.REVOKED: embedding_pb2.CONSENT_STATUS_REVOKED,
    owner_link.EXPIRED: embedding_pb2.CONSENT_STATUS_EXPIRED,
}
# No access token: the owner link's token, in the request, is the credential (service_layer/owner_links.py).
PUBLIC_METHODS = ("GetOwnerConsent", "RevokeOwnerConsent")


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


def owner_view_message(view: OwnerView) -> embedding_pb2.OwnerConsentView:
    return embedding_pb2.OwnerConsentView(
        consent_id=view.consent_id,
        voice_id=view.voice_id,
        voice_name=view.voice_name,
        owner_name=view.owner_name,
        tenant_name=view.tenant_name,
        purpose=view.purpose,
        status=CONSENT_STATUS[view.status],
        grant_time=ts(view.granted_at),
        expire_time=ts(view.expires_at),
        revoke_time=ts(view.revoked_at),
        generations=[
            embedding_pb2.MonthlyGenerations(
                month=m.month, requests=m.requests, characters=m.characters, audio_seconds=m.audio_seconds
            )
            for m in view.generations
        ],
    )


def audit_message(row: AuditEvent) -> embedding_pb2.AuditEvent:
    actor = row.actor
    return embedding_pb2.AuditEvent(
        event_id=row.event_id,
        action=row.action,
        voice_id=row.voice_id or "",
        consent_id=row.consent_id or "",
        actor=embedding_pb2.AuditActor(
            kind=actor.kind,
            key_id=actor.key_id,
            address=actor.address,
            address_source=actor.address_source,
            peer=actor.peer,
        ),
        request_id=actor.request_id,
        time=ts(row.at),
        detail=row.detail,
    )


def actor_of(context) -> Actor:
    """Who is calling, for the audit log: the token's role and API key, the client's address as the
    gateway forwarded it (else the gRPC peer), and the request id."""
    principal = current_principal()
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    peer = peer_host(context.peer() or "")
    forwarded = forwarded_address(metadata)
    return Actor(
        kind=principal.role,
        key_id=principal.key_id or "",
        address=forwarded or peer,
        address_source="forwarded" if forwarded else "peer",
        peer=peer,
        request_id=current("request_id") or "",
    )


def owner_actor(context) -> Actor:
    """The voice's owner, through the owner link: no key, the client's address as the gateway forwarded it."""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    peer = peer_host(context.peer() or "")
    forwarded = forwarded_address(metadata)
    return Actor(
        kind=OWNER,
        address=forwarded or peer,
        address_source="forwarded" if forwarded else "peer",
        peer=peer,
        request_id=current("request_id") or "",
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


SAMPLE_CHUNK_BYTES = 1024 * 1024


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(
        self, voices: Voices, consents: Consents, owner_links: OwnerLinks, audit: AuditTrail | None = None
    ) -> None:
        self.voices = voices
        self.consents = consents
        self.owner_links = owner_links
        self.audit = audit or AuditTrail(voices.uow)

    def _voice(self, row: Voice) -> embedding_pb2.Voice:
        return voice_message(row, self.voices.has_consent(row.id))

    def EnrollVoice(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        policy = self.voices.policy
        metadata, files = collect(request_iterator, policy.max_total_bytes, policy.max_files, policy.max_file_bytes)
        row = self.voices.enroll(
            tenant_id,
            metadata.name,
            files,
            metadata.transcript,
            metadata.language,
            metadata.idempotency_key,
            actor=actor_of(context),
        )
        return embedding_pb2.EnrollVoiceResponse(voice=self._voice(row))

    def GetVoice(self, request, context):
        row = self.voices.get(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.GetVoiceResponse(voice=self._voice(row))

    def ListVoices(self, request, context):
        page = self.voices.list(current_principal().tenant_scope(), page_request(request.page))
        return embedding_pb2.ListVoicesResponse(voices=[self._voice(v) for v in page.items], page=page_response(page))

    def DeleteVoice(self, request, context):
        self.voices.delete(current_principal().tenant_scope(), request.voice_id, actor_of(context))
        return embedding_pb2.DeleteVoiceResponse()

    def VerifySpeaker(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        voice_id, files = collect(request_iterator, self.voices.policy.max_file_bytes, 1)
        if not files:
            raise InvalidArgument("audio is required")
        score, threshold = self.consents.verify(tenant_id, voice_id, files[0].data, actor_of(context))
        return embedding_pb2.VerifySpeakerResponse(score=score, threshold=threshold, same_speaker=score >= threshold)

    def CreateConsentChallenge(self, request, context):
        row, statement = self.consents.challenge(
            current_principal().tenant_scope(), request.voice_id, request.language, actor_of(context)
        )
        return embedding_pb2.CreateConsentChallengeResponse(
            challenge_id=row.id, statement=statement, phrase=row.phrase, expire_time=ts(row.expires_at)
        )

    def SubmitConsent(self, request_iterator, context):
        tenant_id = current_principal().tenant_scope()
        metadata, files = collect(request_iterator, self.voices.policy.max_file_bytes, 1)
        if not files:
            raise InvalidArgument("the consent recording is required")
        row = self.consents.submit_spoken(
            tenant_id,
            metadata.voice_id,
            metadata.challenge_id,
            terms_of(metadata.details),
            files[0].data,
            actor_of(context),
        )
        return embedding_pb2.SubmitConsentResponse(consent=consent_message(row), owner_token=row.owner_token or "")

    def GrantWrittenConsent(self, request, context):
        principal = current_principal()
        principal.require_operator()
        tenant_id = self.voices.owner_of(request.voice_id)
        row = self.consents.grant_written(
            tenant_id, request.voice_id, request.document_sha256, terms_of(request.details), actor_of(context)
        )
        return embedding_pb2.GrantWrittenConsentResponse(
            consent=consent_message(row), owner_token=row.owner_token or ""
        )

    def RevokeConsent(self, request, context):
        row = self.consents.revoke(current_principal().tenant_scope(), request.voice_id, actor_of(context))
        return embedding_pb2.RevokeConsentResponse(consent=consent_message(row))

    def IssueOwnerLink(self, request, context):
        row = self.owner_links.issue(current_principal().tenant_scope(), request.voice_id, actor_of(context))
        return embedding_pb2.IssueOwnerLinkResponse(owner_token=row.owner_token or "", consent_id=row.id)

    def GetOwnerConsent(self, request, context):
        view = self.owner_links.view(request.owner_token)
        return embedding_pb2.GetOwnerConsentResponse(view=owner_view_message(view))

    def RevokeOwnerConsent(self, request, context):
        view = self.owner_links.revoke(request.owner_token, owner_actor(context))
        return embedding_pb2.RevokeOwnerConsentResponse(view=owner_view_message(view))

    def ListAuditEvents(self, request, context):
        page = self.audit.list(current_principal().tenant_scope(), page_request(request.page), request.voice_id)
        return embedding_pb2.ListAuditEventsResponse(
            events=[audit_message(e) for e in page.items], page=page_response(page)
        )

    def GetConsent(self, request, context):
        row = self.consents.get(current_principal().tenant_scope(), request.voice_id)
        return embedding_pb2.GetConsentResponse(consent=consent_message(row))

    def ReadVoiceSample(self, request, context):
        current_principal().require_privileged()
        data = self.voices.read_sample(request.voice_id, request.object_key)
        for at in range(0, len(data), SAMPLE_CHUNK_BYTES):
            yield embedding_pb2.ReadVoiceSampleResponse(chunk=data[at : at + SAMPLE_CHUNK_BYTES])
