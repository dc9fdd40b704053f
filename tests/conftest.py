"""Test configuration shared by every suite.

Tests run against the real PostgreSQL and Kafka of the local stack (started here if they are not
running), but in their own database (timbre_test) and under a per-run topic prefix, so a running
dev stack and earlier runs cannot interfere. Secrets are random per run.
"""

from __future__ import annotations

import os
import secrets
import tempfile

RUN_ID = secrets.token_hex(3)
os.environ["TIMBRE_DATABASE_URL"] = "postgresql+psycopg://timbre@127.0.0.1:55432/timbre_test"
os.environ["TIMBRE_TOPIC_PREFIX"] = f"test-{RUN_ID}."
os.environ["TIMBRE_OPERATOR_SECRET"] = secrets.token_urlsafe(24)
os.environ["TIMBRE_SERVICE_SECRET"] = secrets.token_urlsafe(24)
os.environ["TIMBRE_WATERMARK_KEY"] = secrets.token_hex(32)
os.environ["TIMBRE_DATA_KEK"] = secrets.token_hex(32)
os.environ["TIMBRE_DATA_KEK_ID"] = f"test-{RUN_ID}"
os.environ["TIMBRE_STORAGE_ROOT"] = tempfile.mkdtemp(prefix="timbre-objects-")
os.environ["TIMBRE_LOG_LEVEL"] = os.environ.get("TIMBRE_TEST_LOG_LEVEL", "WARNING")
os.environ["TIMBRE_ENV_FILE"] = os.devnull

from tests.security import run_logs  # noqa: E402 - standard library only

# Every process of the run also logs at INFO to this folder, next to the run's secrets: a separate
# pytest run of tests/security/test_log_secrets.py afterwards greps it all for leaked secrets.
LOG_RUN = run_logs.start(RUN_ID)

import pytest  # noqa: E402 - after the environment is set

from kit.config import KitSettings  # noqa: E402
from kit.db.engine import make_engine  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> KitSettings:
    return KitSettings()


@pytest.fixture(scope="session")
def infra(settings):
    """PostgreSQL, Kafka and the S3 server of the local stack (started if needed), migrated, topics created.

    All fixed-port servers start here, before any test server binds port 0: their ports (55432, 59092,
    59000) lie in Linux's ephemeral range (32768–60999), so a server started later could find its port
    taken by a test's port-0 server or an outgoing connection (seen once: the S3 server, started by
    its test module, found 59000 in use)."""
    from devstack.stack import infra_up
    from kit.logging import configure_logging

    configure_logging("tests", settings.log_level)
    infra_up(with_s3=True, quiet=True)
    return settings


@pytest.fixture(scope="session")
def engine(infra):
    engine = make_engine(infra.database_url)
    yield engine
    engine.dispose()


def pytest_sessionfinish(session, exitstatus):
    run_logs.finish(LOG_RUN)
