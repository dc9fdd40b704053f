"""The integration fixtures (real tenancy, billing, embedding and watermark servers; the gateway over them),
made visible here: pytest only collects fixtures from conftest modules on a test's own path."""

from tests.integration.conftest import (  # noqa: F401 - re-exported as fixtures
    billing,
    embedding,
    gateway_factory,
    issue,
    new_tenant,
    operator_token,
    tenancy,
    tenancy_stub,
    watermark,
)
