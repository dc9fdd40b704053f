"""Where a test run's service logs go, which secrets the run used, and the scan for leaked secrets.

tests/conftest.py calls `start` before anything logs: every process of the run (this one and the services
it starts as children, which inherit the environment) appends its JSON lines at INFO to
`<base>/<run id>/<service>-<pid>.jsonl` (kit/logging.py, TIMBRE_LOG_DIR), and the secret values the run
generated are written next to them in `secrets.json` (mode 600: they are real for the run's lifetime).
tests/security/test_log_secrets.py, run after the suite, scans what the run left. Standard library only:
this is imported before the environment is complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE = Path(os.environ.get("TIMBRE_TEST_LOG_DIR") or REPO / ".run" / "test-logs").absolute()
SECRETS_FILE = "secrets.json"
FINISHED_FILE = "finished"
KEEP_SECONDS = 3 * 24 * 3600
# Environment variables whose values are secrets (the run's, or the local stack's secrets.env).
SECRET_NAME = re.compile(r"SECRET|PASSWORD|KEK$|WATERMARK_KEY|API_KEY|PRIVATE", re.I)
MIN_SECRET_LENGTH = 8  # shorter values would match innocent text

# What a leaked credential looks like, whoever's it is.
SHAPES = {
    "API key": re.compile(r"tmb_[a-z0-9]{6,}_[A-Za-z0-9_\-]{16,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9_\-]{8,}"),
    "Stripe key": re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}"),
    "owner link token": re.compile(r"tvo_[A-Za-z0-9_\-]{16,}"),
}


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    kind: str
    excerpt: str  # the secret's first characters only

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.excerpt}…)"


def start(run_id: str) -> Path:
    """This run's log folder, named in TIMBRE_LOG_DIR for this process and its children."""
    folder = BASE / run_id
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TIMBRE_LOG_DIR"] = str(folder)
    record_secrets(folder)
    _prune(exclude=folder)
    return folder


def finish(folder: Path) -> None:
    """The secrets set during the run too, and a mark that the run's logs are complete."""
    record_secrets(folder)
    (folder / FINISHED_FILE).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def record_secrets(folder: Path, environ: dict[str, str] | None = None) -> None:
    values = secrets_of(environ if environ is not None else dict(os.environ))
    path = folder / SECRETS_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    path.chmod(0o600)


def secrets_of(environ: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environ.items()
        if name.startswith("TIMBRE_") and SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip().strip("'\"") for name, value in pairs}


def finished_runs(exclude: Path | None = None) -> list[Path]:
    if not BASE.is_dir():
        return []
    return sorted(d for d in BASE.iterdir() if d.is_dir() and d != exclude and (d / FINISHED_FILE).exists())


def run_secrets(folder: Path) -> dict[str, str]:
    path = folder / SECRETS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def scan(paths: Iterable[Path], secrets: dict[str, str]) -> list[Leak]:
    """Every line of every file that holds a credential's shape or one of `secrets`' values."""
    literal = {value: name for name, value in secrets.items() if len(value) >= MIN_SECRET_LENGTH}
    leaks = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for kind, shape in SHAPES.items():
                    for found in shape.finditer(line):
                        leaks.append(Leak(path, number, kind, found.group()[:6]))
                for value, name in literal.items():
                    if value in line:
                        leaks.append(Leak(path, number, name, value[:3]))
    return leaks


def _prune(exclude: Path) -> None:
    """Old runs' logs go (they would otherwise pile up under .run/)."""
    cutoff = time.time() - KEEP_SECONDS
    for folder in BASE.iterdir():
        if folder.is_dir() and folder != exclude and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
