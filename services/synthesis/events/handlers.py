"""Consumers of the synthesis service.

"synthesis-voices" (voice lifecycle): builds a voice when the enrollment embedded it, and keeps the
read model of consent and deletion. "synthesis-jobs" (generation lifecycle): runs long-form jobs.
Slow work happens in `prepare` (outside the transaction); its outcome commits with the inbox mark.
"""

from __future__ import annotations

from kit.events.consumer import SlowHandler
from services.synthesis.service_layer.jobs import Jobs
from services.synthesis.service_layer.voice_builds import VoiceBuilds
from timbre.v1 import events_pb2


def voice_handlers(builds: VoiceBuilds) -> dict:
    return {
        events_pb2.VoiceEnrollmentRequested.DESCRIPTOR.full_name: lambda conn, e: builds.requested(conn, e.payload),
        events_pb2.VoiceRejected.DESCRIPTOR.full_name: lambda conn, e: builds.rejected(conn, e.payload),
        events_pb2.VoiceEmbedded.DESCRIPTOR.full_name: SlowHandler(builds.build, builds.apply_build),
        events_pb2.ConsentGranted.DESCRIPTOR.full_name: lambda conn, e: builds.consent_granted(conn, e.payload),
        events_pb2.ConsentRevoked.DESCRIPTOR.full_name: lambda conn, e: builds.consent_revoked(conn, e.payload),
        events_pb2.VoiceDeleted.DESCRIPTOR.full_name: lambda conn, e: builds.deleted(conn, e.payload),
    }


def job_handlers(jobs: Jobs) -> dict:
    return {
        events_pb2.GenerationRequested.DESCRIPTOR.full_name: SlowHandler(
            lambda payload: jobs.run(payload.job_id),
            lambda conn, payload, outcome: jobs.finish(conn, payload.job_id, outcome),
        )
    }
