"""Embedding service process: `python -m services.embedding.main`."""

from __future__ import annotations

import torch

from kit.audio.codec import preload_resampler
from kit.audio.vad import SileroVad
from kit.clients.billing import BillingConnection
from kit.clients.tenancy import TenancyConnection, jwks_fetcher
from kit.crypto import VoiceVault
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.outbox import Outbox
from kit.events.relay import OutboxRelay
from kit.events.topics import VOICE_LIFECYCLE
from kit.grpc.auth import JwksVerifier
from kit.grpc.server import BackgroundWorker, ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from kit.models import ModelStore
from kit.storage import open_store
from kit.watermark import Watermarker
from services.embedding.adapters.owner_view import BillingVoiceUsage, TenancyDirectory
from services.embedding.adapters.quotas import TenancyQuotas
from services.embedding.config import EmbeddingSettings
from services.embedding.domain.audio_checks import AudioPolicy
from services.embedding.encoders import load_encoder
from services.embedding.events.handlers import handlers
from services.embedding.events.index_sync import IndexSync
from services.embedding.grpc_api.servicer import PUBLIC_METHODS, EmbeddingServicer
from services.embedding.index.speaker_index import SpeakerIndex
from services.embedding.service_layer.analysis import Analyzer
from services.embedding.service_layer.consent import Consents
from services.embedding.service_layer.owner_links import OwnerLinks
from services.embedding.service_layer.ports import Quotas
from services.embedding.service_layer.voices import Voices
from services.embedding.storage.repository import SqlUnitOfWork
from services.embedding.storage.tables import SCHEMA
from timbre.v1 import embedding_pb2, embedding_pb2_grpc


class EmbeddingApp:
    """Everything the process wires together; tests reach the parts through it."""

    def __init__(self, settings: EmbeddingSettings, quotas: Quotas | None = None) -> None:
        torch.set_num_threads(settings.torch_threads)
        preload_resampler()  # the first request resamples: it must not pay scipy.signal's import
        store = ModelStore()
        self.settings = settings
        self.engine = make_engine(settings.database_url, settings.db_pool_size)
        self.uow = SqlUnitOfWork(self.engine, Outbox(SCHEMA, settings.service_name))
        encoder = load_encoder(settings.encoder, store)
        self.analyzer = Analyzer(encoder, SileroVad(store.require("silero_vad") / "silero_vad.onnx"), AudioPolicy())
        self.index = SpeakerIndex(encoder.dim, settings.index_ivf_threshold, settings.index_nprobe)
        self.index_sync = IndexSync(self.index, settings.kafka_bootstrap, settings.topic_prefix, encoder.name)
        # Calls to tenancy (quotas, the owner link's tenant name) and billing (the owner link's usage) carry
        # this service's own token.
        self.tenancy = TenancyConnection(settings, settings.service_name)
        self.billing = BillingConnection(settings, self.tenancy.token)
        self.quotas: Quotas = quotas or TenancyQuotas(self.tenancy)
        duplicate_threshold, verify_threshold = settings.thresholds()
        objects = open_store(settings)
        self.voices = Voices(
            self.uow,
            objects,
            self.analyzer,
            self.index,
            self.quotas,
            duplicate_threshold,
            ready_on_embedded=not settings.voices_built_by_synthesis,
            vault=VoiceVault(objects, settings.kek_ring()),
        )
        marker = Watermarker(settings.watermark_key_bytes()) if settings.watermark_key else None
        self.consents = Consents(
            self.uow,
            self.voices.store,
            self.analyzer,
            self.voices,
            verify_threshold,
            settings.challenge_ttl_seconds,
            marker,
        )
        self.owner_links = OwnerLinks(
            self.uow, self.consents, TenancyDirectory(self.tenancy), BillingVoiceUsage(self.billing)
        )

    def process(self) -> ServiceProcess:
        """An edge serves the API; a worker runs the analysis consumer; both keep the speaker index (the
        edge answers from it, the worker's duplicate check searches it) and are ready once it caught up."""
        settings = self.settings
        workers: list[BackgroundWorker] = [self.index_sync]
        if settings.run_workers:
            if settings.role != "edge":
                workers.append(
                    EventConsumer(
                        "embedding-voices",
                        [VOICE_LIFECYCLE],
                        handlers(self.voices, self.uow.joined),
                        self.engine,
                        SCHEMA,
                        settings.kafka_bootstrap,
                        settings.topic_prefix,
                        settings.consumer_max_attempts,
                    )
                )
            workers.append(
                OutboxRelay(
                    self.engine,
                    SCHEMA,
                    settings.service_name,
                    settings.kafka_bootstrap,
                    settings.topic_prefix,
                    settings.relay_batch_size,
                    settings.relay_poll_seconds,
                    settings.outbox_retention_days,
                )
            )
        servicer = (
            embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server,
            EmbeddingServicer(self.voices, self.consents, self.owner_links),
            embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name,
        )
        definition = ServiceDefinition(
            name=settings.service_name,
            servicers=[] if settings.role == "worker" else [servicer],
            verifier=JwksVerifier(jwks_fetcher(settings.tenancy_addr)),
            public_methods=PUBLIC_METHODS,
            workers=workers,
            on_stop=[self.engine.dispose, self.billing.close, self.tenancy.close],
            ready=self.index_sync.caught_up.is_set,
        )
        return ServiceProcess(definition, settings)


def main() -> None:
    settings = EmbeddingSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    EmbeddingApp(settings).process().serve_forever()


if __name__ == "__main__":
    main()
