"""Every service of the platform in this process, over one database and one topic prefix of their own,
and a gateway over them.

Own database and topics (as tests/integration/test_synthesis.py does): services that other test
modules start in the same session relay the same schemas' outboxes under the run's base prefix and
consume its topics, and would carry this stack's events away. Synthesis runs its workers in process
(voice builds, jobs): nothing here kills a worker, so no child process is needed."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.config import KitSettings
from tests.integration.conftest import wait_serving


@dataclass
class Stack:
    addresses: dict[str, str]  # service name → host:port
    database_url: str
    topic_prefix: str
    stops: list = field(default_factory=list)

    def gateway(self):
        from fastapi.testclient import TestClient

        from gateway.app import create_app
        from gateway.config import GatewaySettings

        settings = GatewaySettings(
            tenancy_addr=self.addresses["tenancy"],
            billing_addr=self.addresses["billing"],
            embedding_addr=self.addresses["embedding"],
            watermark_addr=self.addresses["watermark"],
            synthesis_addr=self.addresses["synthesis"],
            topic_prefix=self.topic_prefix,  # the credential cache hears this stack's key revocations
            # Hundreds of calls per tenant: the limiter is not what these tests are about.
            rate_limit_per_second=10_000,
            rate_limit_burst=10_000,
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        self.stops.append(client.close)
        return client

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def start(infra: KitSettings) -> Stack:
    from sqlalchemy.engine import make_url

    from devstack.infra import ensure_database
    from devstack.stack import PG_PORT, ensure_all_topics, migrate_all
    from services.billing.config import BillingSettings
    from services.billing.main import build as build_billing
    from services.embedding.config import EmbeddingSettings
    from services.embedding.main import EmbeddingApp
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.main import SynthesisApp
    from services.tenancy.config import TenancySettings
    from services.tenancy.main import build as build_tenancy
    from services.watermark.config import WatermarkSettings
    from services.watermark.main import build as build_watermark

    prefix = f"{infra.topic_prefix}iso."
    ensure_all_topics(infra.kafka_bootstrap, prefix)
    url = make_url(infra.database_url).set(database="timbre_test_isolation")
    ensure_database(PG_PORT, url.database)
    database_url = url.render_as_string(hide_password=False)
    migrate_all(database_url)
    common = {"grpc_port": 0, "metrics_port": 0, "topic_prefix": prefix, "database_url": database_url}
    stack = Stack({}, database_url, prefix)
    try:
        tenancy = build_tenancy(TenancySettings(**common, quota_sweep_seconds=1.0)).start()
        stack.stops.append(tenancy.stop)
        stack.addresses["tenancy"] = f"127.0.0.1:{tenancy.port}"
        common["tenancy_addr"] = stack.addresses["tenancy"]

        embedding = EmbeddingApp(EmbeddingSettings(**common))
        process = embedding.process().start()
        stack.stops.append(process.stop)
        assert embedding.index_sync.caught_up.wait(60), "speaker index did not load"
        stack.addresses["embedding"] = f"127.0.0.1:{process.port}"
        common["embedding_addr"] = stack.addresses["embedding"]  # synthesis reads sealed samples there

        for name, build, settings in (
            ("watermark", build_watermark, WatermarkSettings(**common)),
            ("billing", build_billing, BillingSettings(**common)),
        ):
            process = build(settings).start()
            stack.stops.append(process.stop)
            stack.addresses[name] = f"127.0.0.1:{process.port}"

        # The world's webhooks point at this machine (nothing is delivered: they want failed jobs only).
        synthesis = SynthesisApp(SynthesisSettings(**common, webhook_allow_private=True))
        process = synthesis.process().start()
        stack.stops.append(process.stop)
        stack.addresses["synthesis"] = f"127.0.0.1:{process.port}"
        for address in stack.addresses.values():
            wait_serving(address, timeout=120)
    except BaseException:
        stack.stop()
        raise
    return stack
