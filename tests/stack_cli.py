"""The `timbre` command as an operator runs it against the local stack (`timbre stack up`): the tests
that drive the stack through its public edges (tests/e2e, tests/browser) share it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMBRE = str(Path(sys.executable).with_name("timbre"))


def operator_env() -> dict[str, str]:
    """The environment an operator has: no test overrides, the stack's own secrets file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMBRE_")}
    env["TIMBRE_ENV_FILE"] = str(REPO / ".run" / "secrets.env")
    return env


def timbre(*args: str) -> str:
    """Runs `timbre <args>` as the operator; its standard output."""
    return subprocess.run(
        [TIMBRE, *args], cwd=REPO, env=operator_env(), check=True, capture_output=True, text=True, timeout=300
    ).stdout
