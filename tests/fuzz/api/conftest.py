"""The real services for the API fuzzers: the integration suite's fixtures, plus a synthesis edge."""

from __future__ import annotations

import sys
import warnings

import pytest

from tests.integration import conftest as integration

# The integration suite's fixtures, shared with this folder (pytest finds fixtures by module attribute).
tenancy = integration.tenancy
tenancy_stub = integration.tenancy_stub
issue = integration.issue
operator_token = integration.operator_token
billing = integration.billing
embedding = integration.embedding
watermark = integration.watermark


@pytest.fixture(scope="session")
def synthesis_edge(infra, tenancy) -> str:
    """The synthesis gRPC edge in this process, without workers: what the speech and job routes and the
    synthesis RPCs reach. No voice is ever built for it, so speech answers a clean 4xx, never audio."""
    from services.synthesis.config import SynthesisSettings
    from services.synthesis.main import SynthesisApp

    app = SynthesisApp(SynthesisSettings(grpc_port=0, metrics_port=0, tenancy_addr=tenancy, run_workers=False))
    process = app.process().start()
    address = f"127.0.0.1:{process.port}"
    integration.wait_serving(address)
    yield address
    process.stop()


@pytest.fixture(scope="session")
def hypothesis_safe_modules(embedding, synthesis_edge) -> None:
    """speechbrain (the embedding service's encoder) puts LazyModule placeholders for its optional
    integrations into sys.modules; one whose dependency is not installed (k2_fsa needs k2) raises
    ImportError on any attribute read. Hypothesis reads `__file__` of every module in sys.modules (to
    mine the code base for constants) and would fail every example with that ImportError. Such a
    module cannot be imported anyway: dropping its placeholder changes nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reading a deprecated placeholder warns
        for name, module in list(sys.modules.items()):
            try:
                getattr(module, "__file__", None)
            except ImportError:
                del sys.modules[name]


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.fuzz.api.figures import TALLIES

    for tally in TALLIES.values():
        terminalreporter.write_line(tally.line())
