"""Voice builds and the voice read model, fed by the voice lifecycle topic.

The build (slow: decode samples, fit the clone) runs outside any transaction; its outcome, the
voice's new status and the VoiceReady / VoiceBuildFailed event commit together. Deleting or revoking
a voice removes its artifacts, also when a build finishes after the deletion.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import Connection

from kit.audio.codec import AudioDecodeError, decode
from kit.errors import TimbreError
from kit.events.outbox import Outbox
from kit.events.topics import VOICE_LIFECYCLE
from kit.logging import get_logger
from kit.storage import ObjectNotFound, ObjectStore
from services.synthesis.engine.interface import REFERENCE_RATE, VoiceEngine
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.storage import repository as repo
from timbre.v1 import events_pb2

log = get_logger("synthesis.builds")


@dataclass(frozen=True)
class BuildOutcome:
    artifact_key: str = ""
    seconds: float = 0.0
    reason: str = ""
    detail: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.reason)


class VoiceBuilds:
    def __init__(self, outbox: Outbox, store: ObjectStore, artifacts: Artifacts, engine: VoiceEngine) -> None:
        self.outbox = outbox
        self.store = store
        self.artifacts = artifacts
        self.engine = engine

    def build(self, event: events_pb2.VoiceEmbedded) -> BuildOutcome:
        started = time.monotonic()
        try:
            references = [decode(self.store.get(key), target_rate=REFERENCE_RATE).samples for key in event.sample_keys]
            artifact = self.engine.build_voice(references, event.transcript or None)
            key = self.artifacts.put(event.tenant_id, event.voice_id, artifact)
        except ObjectNotFound:
            return BuildOutcome(reason="VOICE_NOT_READY", detail="the voice's samples are gone (deleted or revoked)")
        except AudioDecodeError as exc:
            return BuildOutcome(reason=exc.reason, detail=str(exc))
        except TimbreError as exc:  # e.g. MODEL_MISSING when the configured engine's weights are absent
            return BuildOutcome(reason=exc.reason, detail=exc.message)
        seconds = time.monotonic() - started
        log.info("voice_built", voice_id=event.voice_id, engine=self.engine.name, seconds=round(seconds, 2))
        return BuildOutcome(artifact_key=key, seconds=seconds)

    def apply_build(self, conn: Connection, event: events_pb2.VoiceEmbedded, outcome: BuildOutcome) -> None:
        state = repo.voice(conn, event.voice_id, for_update=True)
        if state is not None and state.status in ("deleted", "disabled"):
            self.artifacts.remove(event.tenant_id, event.voice_id)  # deleted while it was being built
            return
        if outcome.failed:
            repo.upsert_voice(
                conn,
                event.voice_id,
                event.tenant_id,
                status="failed",
                failure_reason=outcome.reason,
                failure_detail=outcome.detail,
            )
            self.outbox.add(
                conn,
                VOICE_LIFECYCLE,
                event.voice_id,
                events_pb2.VoiceBuildFailed(
                    voice_id=event.voice_id, tenant_id=event.tenant_id, reason=outcome.reason, detail=outcome.detail
                ),
                tenant_id=event.tenant_id,
            )
            return
        repo.upsert_voice(
            conn,
            event.voice_id,
            event.tenant_id,
            status="ready",
            artifact_key=outcome.artifact_key,
            engine=self.engine.name,
            build_seconds=outcome.seconds,
            failure_reason="",
            failure_detail="",
        )
        self.outbox.add(
            conn,
            VOICE_LIFECYCLE,
            event.voice_id,
            events_pb2.VoiceReady(
                voice_id=event.voice_id,
                tenant_id=event.tenant_id,
                artifact_key=outcome.artifact_key,
                engine=self.engine.name,
            ),
            tenant_id=event.tenant_id,
        )

    def requested(self, conn: Connection, event: events_pb2.VoiceEnrollmentRequested) -> None:
        """Known from the start, so the owner hears "not ready" (not "not found") while it is built."""
        if repo.voice(conn, event.voice_id) is None:
            repo.upsert_voice(conn, event.voice_id, event.tenant_id, status="building")

    def rejected(self, conn: Connection, event: events_pb2.VoiceRejected) -> None:
        state = repo.voice(conn, event.voice_id, for_update=True)
        if state is None or state.status == "building":
            repo.upsert_voice(
                conn,
                event.voice_id,
                event.tenant_id,
                status="failed",
                failure_reason=event.reason,
                failure_detail=f"enrollment was rejected: {event.detail}",
            )

    def consent_granted(self, conn: Connection, event: events_pb2.ConsentGranted) -> None:
        expires = event.expire_time.ToDatetime(tzinfo=UTC) if event.HasField("expire_time") else None
        repo.upsert_voice(
            conn, event.voice_id, event.tenant_id, consent_id=event.consent_id, consent_expires_at=expires
        )

    def consent_revoked(self, conn: Connection, event: events_pb2.ConsentRevoked) -> None:
        repo.upsert_voice(
            conn, event.voice_id, event.tenant_id, status="disabled", consent_id=None, consent_expires_at=None
        )
        self.artifacts.remove(event.tenant_id, event.voice_id)

    def deleted(self, conn: Connection, event: events_pb2.VoiceDeleted) -> None:
        repo.upsert_voice(conn, event.voice_id, event.tenant_id, status="deleted", consent_id=None)
        self.artifacts.remove(event.tenant_id, event.voice_id)
