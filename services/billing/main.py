"""Billing service process: `python -m services.billing.main`."""

from __future__ import annotations

from datetime import timedelta

from kit.clients.tenancy import jwks_fetcher
from kit.clock import SystemClock
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.relay import OutboxRelay
from kit.events.topics import GENERATION_LIFECYCLE, TENANT_EVENTS, USAGE
from kit.grpc.auth import JwksVerifier
from kit.grpc.server import BackgroundWorker, ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from kit.storage import ObjectStore, open_store
from services.billing.adapters.stripe_api import SdkStripeApi
from services.billing.config import BillingSettings
from services.billing.events import analytics_handlers
from services.billing.events.handlers import HANDLERS
from services.billing.grpc_api.accounts import PUBLIC_METHODS
from services.billing.grpc_api.analytics import UsageAnalyticsServicer
from services.billing.grpc_api.servicer import BillingServicer
from services.billing.metrics import CostGauges
from services.billing.service_layer.accounts import BillingAccounts
from services.billing.service_layer.analytics import Analytics
from services.billing.service_layer.reports import Reports
from services.billing.service_layer.stripe_billing import StripeBilling
from services.billing.storage.analytics import SqlAnalyticsUnitOfWork
from services.billing.storage.repository import SqlUnitOfWork
from services.billing.storage.stripe_ledger import SqlStripeUnitOfWork
from services.billing.storage.tables import SCHEMA
from services.billing.workers import StripeReporter
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


def analytics_consumer(settings: BillingSettings, engine) -> EventConsumer:
    """Usage analytics: a consumer group of its own over usage and generation lifecycle events."""
    return EventConsumer(
        analytics_handlers.CONSUMER_NAME,
        [USAGE, GENERATION_LIFECYCLE],
        analytics_handlers.HANDLERS,
        engine,
        SCHEMA,
        settings.kafka_bootstrap,
        settings.topic_prefix,
        settings.consumer_max_attempts,
    )


def cost_reports(settings: BillingSettings, engine, store: ObjectStore) -> Reports:
    """Usage and cost reports, priced as configured; the store's size is the storage line when measured."""
    measured = settings.cost_measure_storage
    stored_bytes = (lambda: sum(size for _, size in store.list_sizes(""))) if measured else None
    return Reports(SqlUnitOfWork(engine), settings.cost_model(), SystemClock(), settings.plans(), stored_bytes)


def stripe_api(settings: BillingSettings) -> SdkStripeApi | None:
    """The SDK client when Stripe is configured; None keeps the ledger without sending anything."""
    if settings.stripe_api_key is None:
        return None
    secret = settings.stripe_webhook_secret
    return SdkStripeApi(
        settings.stripe_api_key.get_secret_value(),
        settings.stripe_api_base,
        secret.get_secret_value() if secret else "",
        settings.stripe_max_network_retries,
        settings.stripe_timeout_seconds,
    )


def stripe_billing(settings: BillingSettings, engine, api: SdkStripeApi) -> StripeBilling:
    return StripeBilling(
        SqlStripeUnitOfWork(engine),
        api,
        settings.plans(),
        SystemClock(),
        settings.stripe_meter_event_name,
        timedelta(hours=settings.billing_grace_hours),
        settings.stripe_batch_size,
        settings.stripe_lease_seconds,
        settings.stripe_senders,
    )


def build(settings: BillingSettings) -> ServiceProcess:
    engine = make_engine(settings.database_url, settings.db_pool_size)
    store = open_store(settings)  # one client for the cost report's storage line and storage per tenant
    reports = cost_reports(settings, engine, store)
    api = stripe_api(settings)
    accounts = BillingAccounts(
        SqlUnitOfWork(engine),
        SqlStripeUnitOfWork(engine),
        api,
        settings.plans(),
        SystemClock(),
        timedelta(hours=settings.billing_grace_hours),
    )
    workers: list[BackgroundWorker] = []
    if settings.run_workers:
        if api is not None:
            workers.append(StripeReporter(stripe_billing(settings, engine, api), settings.stripe_poll_seconds))
        workers += [
            CostGauges(reports, settings.cost_gauges_seconds),
            usage_consumer(settings, engine),
            analytics_consumer(settings, engine),
            OutboxRelay(
                engine,
                SCHEMA,
                settings.service_name,
                settings.kafka_bootstrap,
                settings.topic_prefix,
                settings.relay_batch_size,
                settings.relay_poll_seconds,
                settings.outbox_retention_days,
            ),
        ]
    definition = ServiceDefinition(
        name=settings.service_name,
        servicers=[
            (
                billing_pb2_grpc.add_BillingServiceServicer_to_server,
                BillingServicer(reports, accounts),
                billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name,
            ),
            (
                billing_pb2_grpc.add_UsageAnalyticsServiceServicer_to_server,
                UsageAnalyticsServicer(Analytics(SqlAnalyticsUnitOfWork(engine), store, SystemClock())),
                billing_pb2.DESCRIPTOR.services_by_name["UsageAnalyticsService"].full_name,
            ),
        ],
        verifier=JwksVerifier(jwks_fetcher(settings.tenancy_addr)),
        public_methods=PUBLIC_METHODS,
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
