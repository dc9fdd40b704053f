"""Consumer of the voice lifecycle topic (group "embedding-voices").

VoiceEnrollmentRequested is analysed outside the transaction (`prepare`) and its outcome applied
inside it. The other handlers perform idempotent side effects (quota commit/release, file deletion),
so a redelivery after a crash repeats them harmlessly.
"""

from __future__ import annotations

from sqlalchemy import Connection

from kit.events.consumer import SlowHandler
from kit.events.envelope import Event
from kit.logging import get_logger
from services.embedding.service_layer.voices import Voices
from services.embedding.storage import repository as repo
from timbre.v1 import events_pb2

log = get_logger("embedding.events")


def handlers(voices: Voices) -> dict:
    def reservation_of(conn: Connection, voice_id: str) -> str | None:
        row = conn.execute(repo.voices.select().where(repo.voices.c.id == voice_id)).first()
        return row.reservation_id if row else None

    def on_embedded(conn: Connection, event: Event) -> None:
        payload: events_pb2.VoiceEmbedded = event.payload
        reservation = reservation_of(conn, payload.voice_id)
        if reservation:
            voices.quotas.commit(reservation)

    def on_rejected(conn: Connection, event: Event) -> None:
        payload: events_pb2.VoiceRejected = event.payload
        removed = voices.purge_files(payload.tenant_id, payload.voice_id)
        reservation = reservation_of(conn, payload.voice_id)
        if reservation:
            voices.quotas.release(reservation)
        log.info("rejected_voice_purged", voice_id=payload.voice_id, files=removed)

    def on_deleted(conn: Connection, event: Event) -> None:
        payload: events_pb2.VoiceDeleted = event.payload
        voices.purge_files(payload.tenant_id, payload.voice_id)
        reservation = reservation_of(conn, payload.voice_id)
        if reservation:
            voices.quotas.release(reservation)  # in case it was still pending
        voices.quotas.release_voice_profile(payload.tenant_id, payload.voice_id)

    def on_consent_revoked(conn: Connection, event: Event) -> None:
        payload: events_pb2.ConsentRevoked = event.payload
        voices.purge_files(payload.tenant_id, payload.voice_id)

    def on_ready(conn: Connection, event: Event) -> None:
        payload: events_pb2.VoiceReady = event.payload
        row = repo.voice(conn, payload.voice_id, for_update=True)
        if row is not None and row.status == "processing":
            repo.set_status(conn, payload.voice_id, "ready", "", row.status_detail, progress=1.0)

    def on_build_failed(conn: Connection, event: Event) -> None:
        payload: events_pb2.VoiceBuildFailed = event.payload
        row = repo.voice(conn, payload.voice_id, for_update=True)
        if row is not None and row.status == "processing":
            repo.set_status(
                conn,
                payload.voice_id,
                "rejected",
                payload.reason or "INTERNAL",
                f"the voice could not be built: {payload.detail}",
                progress=1.0,
            )

    return {
        events_pb2.VoiceReady.DESCRIPTOR.full_name: on_ready,
        events_pb2.VoiceBuildFailed.DESCRIPTOR.full_name: on_build_failed,
        events_pb2.VoiceEnrollmentRequested.DESCRIPTOR.full_name: SlowHandler(
            voices.analyse_enrollment, voices.apply_enrollment
        ),
        events_pb2.VoiceEmbedded.DESCRIPTOR.full_name: on_embedded,
        events_pb2.VoiceRejected.DESCRIPTOR.full_name: on_rejected,
        events_pb2.VoiceDeleted.DESCRIPTOR.full_name: on_deleted,
        events_pb2.ConsentRevoked.DESCRIPTOR.full_name: on_consent_revoked,
    }
