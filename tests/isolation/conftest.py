"""The isolation suite's stack and world (built once for the suite), and the case counts it reports."""

from __future__ import annotations

import time

import pytest

from tests.isolation import counts


@pytest.fixture(scope="session")
def world(infra):
    from tests.isolation import stack as stacks
    from tests.isolation import world as worlds

    started = time.monotonic()
    stack = stacks.start(infra)
    try:
        built = worlds.build(stack, infra.operator_secret.get_secret_value(), infra.service_secret.get_secret_value())
        counts.timings["stack start s"] = round(time.monotonic() - started - built.setup_seconds, 1)
        counts.timings["world build s"] = round(built.setup_seconds, 1)
        yield built
        built.stubs.close()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def rest(world):
    """A gateway over the world's stack."""
    return world.stack.gateway()


def pytest_terminal_summary(terminalreporter) -> None:
    if counts.tried:
        terminalreporter.write_sep("-", "tenant isolation")
        for line in counts.report():
            terminalreporter.write_line(line)
