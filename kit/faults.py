"""Failpoints for crash tests: ``TIMBRE_FAILPOINTS="relay.after_commit=3,worker.mid_job=1"`` makes the
process SIGKILL itself the Nth time it passes that point. Unset in production: a dict lookup per pass.
"""

from __future__ import annotations

import os
import signal
import threading

_counts: dict[str, int] = {}
_lock = threading.Lock()


def _targets() -> dict[str, int]:
    spec = os.environ.get("TIMBRE_FAILPOINTS", "")
    targets = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nth = item.partition("=")
        targets[name] = int(nth or 1)
    return targets


_TARGETS = _targets()


def failpoint(name: str) -> None:
    if name not in _TARGETS:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        hit = _counts[name] == _TARGETS[name]
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
