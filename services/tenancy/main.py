"""Tenancy service process: `python -m services.tenancy.main`."""

from __future__ import annotations

import json

from pydantic import SecretStr

from kit.clock import SystemClock
from kit.db.engine import make_engine
from kit.events.consumer import EventConsumer
from kit.events.outbox import Outbox
from kit.events.relay import OutboxRelay
from kit.events.topics import BILLING_EVENTS, USAGE
from kit.grpc.auth import JwksVerifier
from kit.grpc.convert import TIER_CODES
from kit.grpc.server import BackgroundWorker, ServiceDefinition, ServiceProcess
from kit.logging import configure_logging
from services.tenancy.config import TenancySettings
from services.tenancy.events.handlers import CONSUMER_NAME, USAGE_CONSUMER_NAME, handlers, usage_handlers
from services.tenancy.grpc_api.servicer import PUBLIC_METHODS, TenancyServicer
from services.tenancy.service_layer.accounts import Accounts
from services.tenancy.service_layer.quotas import Quotas
from services.tenancy.service_layer.tokens import Tokens
from services.tenancy.storage import signing
from services.tenancy.storage.tables import SCHEMA
from services.tenancy.storage.unit_of_work import SqlUnitOfWork
from services.tenancy.workers import QuotaSweeper
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def billing_consumer(settings: TenancySettings, uow: SqlUnitOfWork) -> EventConsumer:
    """Billing's verdicts (suspend, restore) applied to tenants, once each (inbox in tenancy's schema)."""
    return EventConsumer(
        CONSUMER_NAME,
        [BILLING_EVENTS],
        handlers(uow.joined),
        uow.engine,
        SCHEMA,
        settings.kafka_bootstrap,
        settings.topic_prefix,
        settings.consumer_max_attempts,
    )


def usage_consumer(settings: TenancySettings, uow: SqlUnitOfWork) -> EventConsumer:
    """Recorded usage settling its reservations, once each: a generation whose synchronous CommitQuota
    never happened (its edge died after recording it) is still counted.

    One event per transaction (batch_size=1): a batch would hold one reservation's and the usage row's
    locks while waiting for the next reservation, which a concurrent CommitQuota may hold while it
    waits for that same usage row — a deadlock that PostgreSQL would break by failing a caller's
    commit."""
    return EventConsumer(
        USAGE_CONSUMER_NAME,
        [USAGE],
        usage_handlers(uow.joined),
        uow.engine,
        SCHEMA,
        settings.kafka_bootstrap,
        settings.topic_prefix,
        settings.consumer_max_attempts,
        batch_size=1,
    )


def build(settings: TenancySettings) -> ServiceProcess:
    engine = make_engine(settings.database_url, settings.db_pool_size)
    clock = SystemClock()
    uow = SqlUnitOfWork(engine, Outbox(SCHEMA, settings.service_name))
    accounts = Accounts(uow, TIER_CODES)
    tokens = Tokens(
        accounts,
        signing.JwtSigner(engine, signing.load_or_create(engine), TIER_CODES),
        clock,
        _secret(settings.operator_secret),
        _secret(settings.service_secret),
        settings.tenant_token_ttl_seconds,
        settings.privileged_token_ttl_seconds,
    )
    quotas = Quotas(uow, clock)
    workers: list[BackgroundWorker] = []
    if settings.run_workers:
        workers = [
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
            QuotaSweeper(quotas, settings.quota_sweep_seconds),
            billing_consumer(settings, uow),
            usage_consumer(settings, uow),
        ]
    definition = ServiceDefinition(
        name=settings.service_name,
        servicers=[
            (
                tenancy_pb2_grpc.add_TenancyServiceServicer_to_server,
                TenancyServicer(accounts, tokens, quotas),
                tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name,
            )
        ],
        verifier=JwksVerifier(lambda: json.dumps(signing.jwks(engine))),
        public_methods=PUBLIC_METHODS,
        workers=workers,
        on_stop=[engine.dispose],
    )
    return ServiceProcess(definition, settings)


def main() -> None:
    settings = TenancySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    build(settings).serve_forever()


if __name__ == "__main__":
    main()
