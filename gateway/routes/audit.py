"""The tenant's audit log (read-only: nothing in the API changes or deletes an entry), and the metadata
the audited routes send so the log names the HTTP client's address."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from gateway.auth import Caller, TenantCaller
from gateway.routes.schemas import when
from kit.grpc.client_address import forward
from timbre.v1 import common_pb2, embedding_pb2

router = APIRouter(tags=["audit"])


def audited_metadata(request: Request, caller: Caller) -> list[tuple[str, str]]:
    """The caller's token and the HTTP client's address (recorded as "forwarded" by the service)."""
    return [*caller.metadata, *forward(request.client.host if request.client else None)]


class AuditActorOut(BaseModel):
    kind: str = Field(description="tenant, operator, service or system (an analysis or build verdict)")
    key_id: str | None = Field(None, description="the API key's id, for tenant calls")
    address: str | None = Field(None, description="the client's address")
    address_source: str | None = Field(
        None, description="forwarded: the gateway's HTTP client; peer: the gRPC connection's address"
    )


class AuditEventOut(BaseModel):
    event_id: int
    action: str = Field(
        description="voice.enrollment_requested, voice.ready, voice.rejected, voice.deleted, "
        "consent.challenge_created, consent.granted, consent.refused, consent.revoked, speaker.verified"
    )
    voice_id: str | None
    consent_id: str | None
    actor: AuditActorOut
    request_id: str | None
    at: datetime | None
    detail: dict[str, str]

    @classmethod
    def of(cls, event: embedding_pb2.AuditEvent) -> AuditEventOut:
        actor = event.actor
        return cls(
            event_id=event.event_id,
            action=event.action,
            voice_id=event.voice_id or None,
            consent_id=event.consent_id or None,
            actor=AuditActorOut(
                kind=actor.kind,
                key_id=actor.key_id or None,
                address=actor.address or None,
                address_source=actor.address_source or None,
            ),
            request_id=event.request_id or None,
            at=when(event.time),
            detail=dict(event.detail),
        )


class AuditEventList(BaseModel):
    items: list[AuditEventOut]
    next_page_token: str | None = None


@router.get(
    "/v1/audit",
    response_model=AuditEventList,
    summary="The tenant's audit log: who did what to which voice and consent, from which key and address; "
    "newest first, append-only",
)
def list_audit_events(
    request: Request,
    voice_id: str = Query("", description="only this voice's entries"),
    page_size: int = Query(20, ge=1, le=100),
    page_token: str = "",
    caller: Caller = TenantCaller,
) -> AuditEventList:
    reply = request.app.state.backends.embedding.ListAuditEvents(
        embedding_pb2.ListAuditEventsRequest(
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token), voice_id=voice_id
        ),
        metadata=caller.metadata,
    )
    return AuditEventList(
        items=[AuditEventOut.of(e) for e in reply.events], next_page_token=reply.page.next_page_token or None
    )
