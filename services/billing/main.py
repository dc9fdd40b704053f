"""Billing service process: `python -m services.billing.main`."""

from __future__ import annotations

from kit.clients.tenancy import jwks_fetcher
from kit.clock import SystemClock
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.relay import OutboxRelay
from kit.events.topics import TENANT_EVENTS, USAGE
from kit.grpc.auth import JwksVerifier
from kit.grpc.server import BackgroundWorker, ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from services.billing.config import BillingSettings
from services.billing.domain.cost_model import CostModel
from services.billing.events.handlers import HANDLERS
from services.billing.grpc_api.servicer import BillingServicer
from services.billing.service_layer.reports import Reports
from services.billing.storage.repository import SqlUnitOfWork
from services.billing.storage.tables import SCHEMA
from timbre.v1 import billing_pb2, billing_pb2_grpc


def usage_consumer(settings: BillingSettings, engine) -> EventConsumer:
    return EventConsumer(
        "billing-usage",
        [TENANT_EVENTS, USAGE],
        HANDLERS,
        engine,
        SCHEMA,
        settings.kafka_bootstrap,
        settings.topic_prefix,
        settings.consumer_max_attempts,
    )


def build(settings: BillingSettings) -> ServiceProcess:
    engine = make_engine(settings.database_url, settings.db_pool_size)
    workers: list[BackgroundWorker] = []
    if settings.run_workers:
        workers = [
            usage_consumer(settings, engine),
            OutboxRelay(
                engine,
                SCHEMA,
                settings.service_name,
                settings.kafka_bootstrap,
                settings.topic_prefix,
                settings.relay_batch_size,
                settings.relay_poll_seconds,
            ),
        ]
    definition = ServiceDefinition(
        name=settings.service_name,
        servicers=[
            (
                billing_pb2_grpc.add_BillingServiceServicer_to_server,
                BillingServicer(Reports(SqlUnitOfWork(engine), CostModel(), SystemClock())),
                billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name,
            )
        ],
        verifier=JwksVerifier(jwks_fetcher(settings.tenancy_addr)),
        workers=workers,
        on_stop=[engine.dispose],
    )
    return ServiceProcess(definition, settings)


def main() -> None:
    settings = BillingSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    build(settings).serve_forever()


if __name__ == "__main__":
    main()
