"""Synthesis service process: `python -m services.synthesis.main`."""

from __future__ import annotations

import torch

from kit.audio.codec import preload_resampler
from kit.clients.tenancy import TenancyConnection, jwks_fetcher
from kit.clock import SystemClock
from kit.crypto import VoiceVault
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.lag import LagMonitor
from kit.events.outbox import Outbox
from kit.events.relay import OutboxRelay
from kit.events.topics import DEDICATED_JOBS, GENERATION_LIFECYCLE, VOICE_LIFECYCLE, TopicSpec
from kit.grpc.auth import JwksVerifier
from kit.grpc.server import ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from kit.models import ModelStore
from kit.net.egress import EgressPolicy
from kit.storage import open_store
from kit.watermark import Watermarker
from services.synthesis import metrics
from services.synthesis.adapters.quotas import TenancyQuotas
from services.synthesis.adapters.samples import EmbeddingSamples
from services.synthesis.adapters.webhook_sender import PinnedHttpSender
from services.synthesis.config import SynthesisSettings
from services.synthesis.engine.factory import make_engine as make_voice_engine
from services.synthesis.engine.worker_class import worker_class_of
from services.synthesis.events.handlers import job_handlers, voice_handlers
from services.synthesis.grpc_api.servicer import SynthesisServicer
from services.synthesis.grpc_api.speech_slots import SpeechSlots
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.service_layer.jobs import Jobs
from services.synthesis.service_layer.ports import Quotas
from services.synthesis.service_layer.speech import Speaker
from services.synthesis.service_layer.voice_builds import VoiceBuilds
from services.synthesis.service_layer.webhooks import Deliverer, Webhooks
from services.synthesis.storage.repository import SqlUnitOfWork
from services.synthesis.storage.tables import SCHEMA
from timbre.v1 import synthesis_pb2, synthesis_pb2_grpc

VOICES_GROUP = "synthesis-voices"
JOBS_GROUP = "synthesis-jobs"
DEDICATED_JOBS_GROUP = "synthesis-jobs-dedicated"


class SynthesisApp:
    """Everything the process wires together; tests reach the parts through it."""

    def __init__(self, settings: SynthesisSettings, quotas: Quotas | None = None) -> None:
        torch.set_num_threads(settings.torch_threads)
        preload_resampler()  # the first request resamples: it must not pay scipy.signal's import
        self.settings = settings
        self.engine = make_voice_engine(settings.engine, ModelStore())
        self.db = make_engine(settings.database_url, settings.db_pool_size)
        self.uow = SqlUnitOfWork(self.db, Outbox(SCHEMA, settings.service_name))
        clock = SystemClock()
        store = open_store(settings)
        vault = VoiceVault(store, settings.kek_ring())
        self.artifacts = Artifacts(store, self.engine, settings.voice_cache_size, vault=vault, uow=self.uow)
        self.quotas: Quotas = quotas or TenancyQuotas(TenancyConnection(settings, settings.service_name))
        marker = Watermarker(settings.watermark_key_bytes(), settings.watermark_strength_db)
        self.speaker = Speaker(
            self.uow,
            self.artifacts,
            self.engine,
            marker,
            self.quotas,
            settings.stream_segment_seconds,
            settings.quota_ttl_seconds,
            clock,
            worker_class_of(settings.worker_class, self.engine.device),
        )
        egress = EgressPolicy(allow_private=settings.webhook_allow_private)
        self.webhooks = Webhooks(self.uow, clock, egress)
        self.jobs = Jobs(
            self.uow,
            store,
            self.speaker,
            self.webhooks,
            settings.job_max_attempts,
            clock,
            settings.dedicated_tier_names(),
        )
        samples = EmbeddingSamples(settings, settings.service_name)
        self.builds = VoiceBuilds(store, self.artifacts, self.engine, clock, samples=samples)
        self.deliverer = Deliverer(
            self.uow,
            PinnedHttpSender(egress, settings.webhook_timeout_seconds),
            settings.webhook_max_attempts,
            settings.webhook_backoff_seconds,
            settings.webhook_disable_after,
            settings.webhook_poll_seconds,
            clock,
        )

    def workers(self) -> list:
        """The background loops of this process's role: an edge only relays its outbox; a worker also
        consumes its pool's queues (voice builds go to the shared pool), delivers webhooks and reports
        its queues' lag."""
        s = self.settings
        relay = OutboxRelay(
            self.db,
            SCHEMA,
            s.service_name,
            s.kafka_bootstrap,
            s.topic_prefix,
            s.relay_batch_size,
            s.relay_poll_seconds,
            s.outbox_retention_days,
        )
        if s.role == "edge":
            return [relay]
        shared, dedicated = s.job_pool in ("all", "shared"), s.job_pool in ("all", "dedicated")
        loops: list = []
        if shared:
            loops.append(self._consumer(VOICES_GROUP, VOICE_LIFECYCLE, voice_handlers(self.builds, self.uow)))
            loops.append(self._consumer(JOBS_GROUP, GENERATION_LIFECYCLE, job_handlers(self.jobs, self.uow)))
            loops.append(self._lag("jobs", JOBS_GROUP, GENERATION_LIFECYCLE))
        if dedicated:
            loops.append(self._consumer(DEDICATED_JOBS_GROUP, DEDICATED_JOBS, job_handlers(self.jobs, self.uow)))
            loops.append(self._lag("jobs-dedicated", DEDICATED_JOBS_GROUP, DEDICATED_JOBS))
        return [*loops, relay, self.deliverer]

    def _consumer(self, group: str, topic: TopicSpec, handlers: dict) -> EventConsumer:
        s = self.settings
        slowest = s.build_max_seconds if topic is VOICE_LIFECYCLE else s.job_max_seconds
        return EventConsumer(
            group,
            [topic],
            handlers,
            self.db,
            SCHEMA,
            s.kafka_bootstrap,
            s.topic_prefix,
            s.consumer_max_attempts,
            max_poll_interval_seconds=slowest,
        )

    def _lag(self, queue: str, group: str, topic: TopicSpec) -> LagMonitor:
        s = self.settings
        return LagMonitor(metrics.QUEUE_DEPTH, queue, group, topic, s.kafka_bootstrap, s.topic_prefix)

    def process(self) -> ServiceProcess:
        settings = self.settings
        definition = ServiceDefinition(
            name=settings.service_name,
            # A worker serves only health and reflection: callers reach the API through the edges.
            servicers=[]
            if settings.role == "worker"
            else [
                (
                    synthesis_pb2_grpc.add_SynthesisServiceServicer_to_server,
                    SynthesisServicer(
                        self.speaker,
                        self.jobs,
                        self.webhooks,
                        SpeechSlots(settings.speech_slots, settings.speech_wait_seconds),
                    ),
                    synthesis_pb2.DESCRIPTOR.services_by_name["SynthesisService"].full_name,
                )
            ],
            verifier=JwksVerifier(jwks_fetcher(settings.tenancy_addr)),
            workers=self.workers() if settings.run_workers else [],
            on_stop=[self.db.dispose],
        )
        return ServiceProcess(definition, settings)


def main() -> None:
    settings = SynthesisSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    SynthesisApp(settings).process().serve_forever()


if __name__ == "__main__":
    main()
