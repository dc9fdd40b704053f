"""Consent of a voice's owner: challenge, spoken consent upload, status, revocation, and a new owner link
(the owner's own routes are gateway/routes/owner.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.auth import Caller, TenantCaller
from gateway.routes.audit import audited_metadata
from gateway.routes.schemas import (
    PROHIBITED_USES,
    ChallengeIn,
    ChallengeOut,
    ConsentOut,
    OwnerLinkOut,
    owner_url,
    when,
)
from gateway.uploads import UploadStream
from timbre.v1 import embedding_pb2

router = APIRouter(tags=["consent"])


@router.post(
    "/v1/voices/{voice_id}/consent/challenge",
    status_code=201,
    response_model=ChallengeOut,
    summary="A consent statement with a random phrase for the voice's owner to read aloud",
)
def create_challenge(
    voice_id: str, request: Request, body: ChallengeIn | None = None, caller: Caller = TenantCaller
) -> ChallengeOut:
    reply = request.app.state.backends.embedding.CreateConsentChallenge(
        embedding_pb2.CreateConsentChallengeRequest(
            voice_id=voice_id, language=(body.language if body else None) or ""
        ),
        metadata=audited_metadata(request, caller),
    )
    return ChallengeOut(
        challenge_id=reply.challenge_id,
        statement=reply.statement,
        phrase=reply.phrase,
        expires_at=when(reply.expire_time),
    )


@router.post(
    "/v1/voices/{voice_id}/consent",
    status_code=201,
    response_model=ConsentOut,
    summary="The owner's recorded consent (same speaker as the voice; English phrases are checked by ASR)",
    description="The answer carries the voice owner's private link (owner_token, owner_url), in this answer "
    "only: pass it to the person whose voice it is (docs/owner-portal.md).",
)
def submit_consent(
    voice_id: str,
    request: Request,
    challenge_id: Annotated[str, Form()],
    owner_name: Annotated[str, Form(min_length=1, max_length=200)],
    purpose: Annotated[str, Form(min_length=1, max_length=2000)],
    expires_at: Annotated[datetime, Form(description="ISO 8601 with a time zone")],
    prohibited_uses_acknowledged: Annotated[list[str], Form(description=", ".join(PROHIBITED_USES))],
    file: Annotated[UploadFile, File(description="the owner reading the statement")],
    authorized_tenant_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
    caller: Caller = TenantCaller,
) -> ConsentOut:
    unknown = [u for u in prohibited_uses_acknowledged if u not in PROHIBITED_USES]
    if unknown:
        raise HTTPException(400, f"unknown prohibited uses: {', '.join(unknown)}")
    if expires_at.tzinfo is None:
        raise HTTPException(400, "expires_at needs a time zone")
    expire = Timestamp()
    expire.FromDatetime(expires_at)
    details = embedding_pb2.ConsentDetails(
        owner_name=owner_name,
        purpose=purpose,
        expire_time=expire,
        prohibited_uses_acknowledged=[PROHIBITED_USES[u] for u in prohibited_uses_acknowledged],
        authorized_tenant_ids=[t for item in authorized_tenant_ids for t in item.split(",") if t.strip()],
    )
    upload = UploadStream([(file.filename or "consent", file)], request.app.state.settings.max_upload_bytes)

    def stream():
        yield embedding_pb2.SubmitConsentRequest(
            metadata=embedding_pb2.SubmitConsentMetadata(voice_id=voice_id, challenge_id=challenge_id, details=details)
        )
        for chunk in upload.chunks():
            yield embedding_pb2.SubmitConsentRequest(chunk=chunk)

    with upload.sending():
        reply = request.app.state.backends.embedding.SubmitConsent(stream(), metadata=audited_metadata(request, caller))
    return ConsentOut.of(reply.consent, reply.owner_token, request.app.state.settings.public_url)


@router.get("/v1/voices/{voice_id}/consent", response_model=ConsentOut, summary="The voice's latest consent")
def get_consent(voice_id: str, request: Request, caller: Caller = TenantCaller) -> ConsentOut:
    reply = request.app.state.backends.embedding.GetConsent(
        embedding_pb2.GetConsentRequest(voice_id=voice_id), metadata=caller.metadata
    )
    return ConsentOut.of(reply.consent)


@router.delete(
    "/v1/voices/{voice_id}/consent",
    response_model=ConsentOut,
    summary="Revoke consent: the voice is disabled at once, its samples and artifacts deleted",
)
def revoke_consent(voice_id: str, request: Request, caller: Caller = TenantCaller) -> ConsentOut:
    reply = request.app.state.backends.embedding.RevokeConsent(
        embedding_pb2.RevokeConsentRequest(voice_id=voice_id), metadata=audited_metadata(request, caller)
    )
    return ConsentOut.of(reply.consent)


@router.post(
    "/v1/voices/{voice_id}/consent/owner-link",
    status_code=201,
    response_model=OwnerLinkOut,
    summary="A new private link for the voice's owner; the previous link stops working at once",
    description="For the voice's active consent (409 CONSENT_REQUIRED without one). The token is shown in "
    "this answer only.",
)
def issue_owner_link(voice_id: str, request: Request, caller: Caller = TenantCaller) -> OwnerLinkOut:
    reply = request.app.state.backends.embedding.IssueOwnerLink(
        embedding_pb2.IssueOwnerLinkRequest(voice_id=voice_id), metadata=audited_metadata(request, caller)
    )
    return OwnerLinkOut(
        owner_token=reply.owner_token, owner_url=owner_url(request.app.state.settings.public_url, reply.owner_token)
    )
