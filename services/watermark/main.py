"""Watermark service process: `python -m services.watermark.main`."""

from __future__ import annotations

from kit.audio.codec import preload_resampler
from kit.clients.tenancy import jwks_fetcher
from kit.clock import SystemClock
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.topics import GENERATION_LIFECYCLE
from kit.grpc.auth import JwksVerifier
from kit.grpc.server import BackgroundWorker, ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from kit.watermark import Watermarker
from services.watermark.config import WatermarkSettings
from services.watermark.events.handlers import HANDLERS
from services.watermark.grpc_api.servicer import WatermarkServicer
from services.watermark.service_layer.marking import Marking
from services.watermark.service_layer.provenance import Provenance
from services.watermark.storage.repository import SqlUnitOfWork
from services.watermark.storage.tables import SCHEMA
from timbre.v1 import watermark_pb2, watermark_pb2_grpc


def build(settings: WatermarkSettings) -> ServiceProcess:
    engine = make_engine(settings.database_url, settings.db_pool_size)
    uow = SqlUnitOfWork(engine)
    marker = Watermarker(settings.watermark_key_bytes(), settings.watermark_strength_db)
    marker.prepare()  # the tempo/pitch search's compiled decoder, before the first request
    marking = Marking(uow, marker, SystemClock())
    workers: list[BackgroundWorker] = []
    if settings.run_workers:
        workers = [
            EventConsumer(
                "watermark-provenance",
                [GENERATION_LIFECYCLE],
                HANDLERS,
                engine,
                SCHEMA,
                settings.kafka_bootstrap,
                settings.topic_prefix,
                settings.consumer_max_attempts,
            )
        ]
    definition = ServiceDefinition(
        name=settings.service_name,
        servicers=[
            (
                watermark_pb2_grpc.add_WatermarkServiceServicer_to_server,
                WatermarkServicer(marking, Provenance(uow)),
                watermark_pb2.DESCRIPTOR.services_by_name["WatermarkService"].full_name,
            )
        ],
        verifier=JwksVerifier(jwks_fetcher(settings.tenancy_addr)),
        workers=workers,
        on_stop=[engine.dispose],
    )
    return ServiceProcess(definition, settings)


def main() -> None:
    settings = WatermarkSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    preload_resampler()  # detection resamples uploads: the first one must not pay scipy.signal's import
    build(settings).serve_forever()


if __name__ == "__main__":
    main()
