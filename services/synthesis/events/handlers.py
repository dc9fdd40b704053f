"""Consumers of the synthesis service: each handler translates an event's payload into a use case's
domain arguments, and its transaction (the consumer's, with the inbox mark) into a repository.

"synthesis-voices" (voice lifecycle): builds a voice when the enrollment embedded it, and keeps what
synthesis needs to speak with it (consent, revocation, deletion). "synthesis-jobs" (generation
lifecycle): runs long-form jobs. Slow work happens in `prepare` (outside the transaction); its outcome
commits with the inbox mark.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from kit.events.consumer import SlowHandler
from services.synthesis.service_layer.jobs import JobOutcome, Jobs
from services.synthesis.service_layer.voice_builds import BuildOutcome, BuildRequest, VoiceBuilds, VoiceRef
from services.synthesis.storage.repository import SqlUnitOfWork
from timbre.v1 import events_pb2

Handlers = dict[str, Callable[..., Any]]


def _voice(payload: Any) -> VoiceRef:
    return VoiceRef(payload.voice_id, payload.tenant_id)


def _build(payload: events_pb2.VoiceEmbedded) -> BuildRequest:
    return BuildRequest(payload.voice_id, payload.tenant_id, tuple(payload.sample_keys), payload.transcript)


def voice_handlers(builds: VoiceBuilds, uow: SqlUnitOfWork) -> Handlers:
    def consent_granted(conn: Any, event: Any) -> None:
        payload: events_pb2.ConsentGranted = event.payload
        expires = payload.expire_time.ToDatetime(tzinfo=UTC) if payload.HasField("expire_time") else None
        builds.consent_granted(uow.joined(conn), _voice(payload), payload.consent_id, expires)

    def apply_build(conn: Any, payload: events_pb2.VoiceEmbedded, outcome: BuildOutcome) -> None:
        builds.apply_build(uow.joined(conn), _build(payload), outcome)

    return {
        events_pb2.VoiceEnrollmentRequested.DESCRIPTOR.full_name: lambda conn, e: builds.requested(
            uow.joined(conn), _voice(e.payload)
        ),
        events_pb2.VoiceRejected.DESCRIPTOR.full_name: lambda conn, e: builds.rejected(
            uow.joined(conn), _voice(e.payload)
        ),
        events_pb2.VoiceEmbedded.DESCRIPTOR.full_name: SlowHandler(lambda p: builds.build(_build(p)), apply_build),
        events_pb2.ConsentGranted.DESCRIPTOR.full_name: consent_granted,
        events_pb2.ConsentRevoked.DESCRIPTOR.full_name: lambda conn, e: builds.consent_revoked(
            uow.joined(conn), _voice(e.payload)
        ),
        events_pb2.VoiceDeleted.DESCRIPTOR.full_name: lambda conn, e: builds.deleted(
            uow.joined(conn), _voice(e.payload)
        ),
    }


def job_handlers(jobs: Jobs, uow: SqlUnitOfWork) -> Handlers:
    def finish(conn: Any, payload: events_pb2.GenerationRequested, outcome: JobOutcome) -> None:
        jobs.finish(uow.joined(conn), payload.job_id, outcome)

    return {
        events_pb2.GenerationRequested.DESCRIPTOR.full_name: SlowHandler(lambda p: jobs.run(p.job_id), finish),
    }
