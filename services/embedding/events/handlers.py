"""Consumer of the voice lifecycle topic (group "embedding-voices"): each handler translates its event
into a use case of services.embedding.service_layer.voices, run in the consumer's transaction.

VoiceEnrollmentRequested is analysed outside the transaction (`prepare`) and its outcome applied
inside it. The other use cases are idempotent (quota commit/release, file deletion, status changes
only from "processing"), so a redelivery after a crash repeats them harmlessly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import Connection

from kit.events.consumer import Handler, SlowHandler
from kit.events.envelope import Event
from kit.logging import get_logger
from services.embedding.service_layer.ports import Transaction
from services.embedding.service_layer.voices import EnrollmentOutcome, EnrollmentRequest, Voices
from timbre.v1 import events_pb2

log = get_logger("embedding.events")
M = TypeVar("M", bound=Message)


def payload(event: Event, kind: type[M]) -> M:
    """The event's payload as the message type the consumer routed it by."""
    if not isinstance(event.payload, kind):
        raise TypeError(f"expected {kind.DESCRIPTOR.full_name}, got {event.payload.DESCRIPTOR.full_name}")
    return event.payload


def enrollment_request(payload: events_pb2.VoiceEnrollmentRequested) -> EnrollmentRequest:
    return EnrollmentRequest(
        payload.voice_id, payload.tenant_id, list(payload.sample_keys), payload.transcript, payload.language
    )


def handlers(voices: Voices, join: Callable[[Connection], Transaction]) -> dict[str, Handler]:
    """`join` wraps the consumer's connection as the use cases' transaction."""

    def on_ready(conn: Connection, event: Event) -> None:
        voices.voice_built(join(conn), payload(event, events_pb2.VoiceReady).voice_id)

    def on_build_failed(conn: Connection, event: Event) -> None:
        failed = payload(event, events_pb2.VoiceBuildFailed)
        voices.voice_build_failed(join(conn), failed.voice_id, failed.reason, failed.detail)

    def analyse(request: events_pb2.VoiceEnrollmentRequested) -> EnrollmentOutcome | None:
        return voices.analyse_enrollment(enrollment_request(request))

    def apply(conn: Connection, sent: events_pb2.VoiceEnrollmentRequested, outcome: EnrollmentOutcome | None) -> None:
        voices.apply_enrollment(join(conn), enrollment_request(sent), outcome)

    def on_embedded(conn: Connection, event: Event) -> None:
        voices.voice_embedded(join(conn), payload(event, events_pb2.VoiceEmbedded).voice_id)

    def on_rejected(conn: Connection, event: Event) -> None:
        rejected = payload(event, events_pb2.VoiceRejected)
        removed = voices.voice_rejected(join(conn), rejected.tenant_id, rejected.voice_id)
        log.info("rejected_voice_purged", voice_id=rejected.voice_id, files=removed)

    def on_deleted(conn: Connection, event: Event) -> None:
        deleted = payload(event, events_pb2.VoiceDeleted)
        voices.voice_deleted(join(conn), deleted.tenant_id, deleted.voice_id)

    def on_consent_revoked(conn: Connection, event: Event) -> None:
        revoked = payload(event, events_pb2.ConsentRevoked)
        voices.consent_revoked(revoked.tenant_id, revoked.voice_id)

    return {
        events_pb2.VoiceReady.DESCRIPTOR.full_name: on_ready,
        events_pb2.VoiceBuildFailed.DESCRIPTOR.full_name: on_build_failed,
        events_pb2.VoiceEnrollmentRequested.DESCRIPTOR.full_name: SlowHandler(analyse, apply),
        events_pb2.VoiceEmbedded.DESCRIPTOR.full_name: on_embedded,
        events_pb2.VoiceRejected.DESCRIPTOR.full_name: on_rejected,
        events_pb2.VoiceDeleted.DESCRIPTOR.full_name: on_deleted,
        events_pb2.ConsentRevoked.DESCRIPTOR.full_name: on_consent_revoked,
    }
