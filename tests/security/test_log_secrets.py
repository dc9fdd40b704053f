"""No secret in any service log of a test run, nor in the local stack's logs.

Run it after the suite, as its own pytest run (the suite's processes must have finished writing):

    TIMBRE_CHECK_RUN_LOGS=1 .venv/bin/python -m pytest tests/security/test_log_secrets.py -q

It reads every finished run under .run/test-logs/ (TIMBRE_TEST_LOG_DIR overrides; tests/security/run_logs.py)
and fails listing file:line of each API key, JWT, webhook secret or Stripe key shape, and of each value of
the run's own secrets (operator and service secrets, watermark key, data KEK...). Inside the suite itself it
skips: the run it would read is still being written.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import LOG_RUN
from tests.security import run_logs

pytestmark = pytest.mark.skipif(
    os.environ.get("TIMBRE_CHECK_RUN_LOGS") != "1", reason="run after the suite with TIMBRE_CHECK_RUN_LOGS=1"
)
STACK = run_logs.REPO / ".run"


def _report(leaks: list[run_logs.Leak]) -> str:
    shown = "\n".join(str(leak) for leak in leaks[:50])
    more = f"\n… and {len(leaks) - 50} more" if len(leaks) > 50 else ""
    return f"{len(leaks)} secrets in logs:\n{shown}{more}"


def test_no_secret_in_any_log_of_the_test_runs():
    runs = run_logs.finished_runs(exclude=LOG_RUN)
    if not runs:
        pytest.skip(f"no finished test run under {run_logs.BASE}: run the suite first")
    leaks = []
    files = 0
    for run in runs:
        logs = sorted(run.glob("*.jsonl"))
        files += len(logs)
        leaks += run_logs.scan(logs, run_logs.run_secrets(run))
    assert files, f"the runs under {run_logs.BASE} left no log files: is TIMBRE_LOG_DIR reaching kit.logging?"
    assert not leaks, _report(leaks)


def test_no_secret_in_the_local_stacks_logs():
    logs = sorted(p for p in (STACK / "logs").glob("*") if p.is_file()) if (STACK / "logs").is_dir() else []
    if not logs:
        pytest.skip("no local stack logs (.run/logs)")
    env_file = STACK / "secrets.env"
    secrets = run_logs.secrets_of(run_logs.read_env_file(env_file)) if env_file.exists() else {}
    leaks = run_logs.scan(logs, secrets)
    assert not leaks, _report(leaks)
