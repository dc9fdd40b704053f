"""Synthesis worker processes per GPU: `python -m services.synthesis.worker_pool [-- command ...]`.

Each worker process holds one copy of its model and generates one request at a time on it
(engine/coqui.py), so a GPU serves more at once through more processes. This supervisor starts
TIMBRE_WORKERS_PER_GPU workers per visible GPU (TIMBRE_CPU_WORKERS where none is), each with
CUDA_VISIBLE_DEVICES pinned to its GPU and its own gRPC health and metrics ports (the base ports plus
its slot number: slot 0 keeps the base ports, which the container's probes check), restarts a worker
that dies, and passes SIGTERM/SIGINT on to every worker for a graceful stop. A worker that keeps
dying (MAX_RESTARTS within RESTART_WINDOW seconds) stops the pool with an error, so the container
restarts and its orchestrator sees the crash loop rather than a supervisor hiding it.

One slot in all (one worker on one GPU, or one on CPU) needs no supervisor: the command replaces
this process (exec), pinned the same way, exactly as if it had been started directly.

The command defaults to the synthesis service (`python -m services.synthesis.main`); it reads its
role (TIMBRE_ROLE=worker) and every other setting from the environment it inherits.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kit.logging import configure_logging, get_logger
from services.synthesis.config import SynthesisSettings

log = get_logger("synthesis.worker_pool")

MAX_RESTARTS = 5
RESTART_WINDOW = 300.0
POLL_SECONDS = 0.2


def visible_gpus(environ: Mapping[str, str], devices: Path = Path("/dev")) -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them.

    CUDA_VISIBLE_DEVICES when set (CUDA stops at the first invalid entry, e.g. -1); else one per
    /dev/nvidia<N> node, numbered from 0 as CUDA numbers them: a container gets the nodes of its
    own GPUs only (NVIDIA's container runtime), and this needs neither torch nor nvidia-smi."""
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        gpus: list[str] = []
        for entry in (part.strip() for part in listed.split(",")):
            if not entry or entry.startswith("-") or entry == "NoDevFiles":
                break
            gpus.append(entry)
        return gpus
    try:
        count = sum(1 for node in devices.iterdir() if re.fullmatch(r"nvidia\d+", node.name))
    except OSError:
        count = 0
    return [str(i) for i in range(count)]


@dataclass
class Slot:
    """One worker process's place in the pool: its GPU (None: CPU) and the environment it runs in."""

    index: int
    gpu: str | None
    env: dict[str, str]
    process: subprocess.Popen | None = None
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None


def plan(
    gpus: Sequence[str],
    workers_per_gpu: int,
    cpu_workers: int,
    grpc_port: int,
    metrics_port: int,
    base_env: Mapping[str, str],
) -> list[Slot]:
    """Slots in GPU order (all of GPU 0's workers, then GPU 1's, ...), ports counted up from the base."""
    placements: list[str | None] = [None] * cpu_workers
    if gpus:
        placements = [gpu for gpu in gpus for _ in range(workers_per_gpu)]
    slots = []
    for index, gpu in enumerate(placements):
        env = dict(base_env)
        env["TIMBRE_GRPC_PORT"] = str(grpc_port + index)
        env["TIMBRE_METRICS_PORT"] = str(metrics_port + index)
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        slots.append(Slot(index, gpu, env))
    return slots


class WorkerPool:
    """Runs the slots' processes until stopped; `run` returns the pool's exit status."""

    def __init__(
        self,
        command: Sequence[str],
        slots: list[Slot],
        grace_seconds: float,
        max_restarts: int = MAX_RESTARTS,
        backoff_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = list(command)
        self.slots = slots
        self.grace_seconds = grace_seconds
        self.max_restarts = max_restarts
        self.backoff_seconds = backoff_seconds
        self.clock = clock
        self.stopping = False
        self.failed = False

    def stop(self, signum: int = signal.SIGTERM, _frame: object = None) -> None:
        """Signal handler: the loop stops the workers (not here: a handler must not wait)."""
        self.stopping = True

    def _start(self, slot: Slot) -> None:
        slot.process = subprocess.Popen(self.command, env=slot.env)
        slot.restart_at = None
        log.info("worker_started", slot=slot.index, gpu=slot.gpu, pid=slot.process.pid)

    def _check(self, slot: Slot, now: float) -> None:
        """A dead worker comes back after a backoff (1 s, doubling per recent death, up to 30 s): a
        worker that fails at once (no model, no database) must not spin."""
        if slot.process is not None and slot.process.poll() is not None:
            slot.deaths = [t for t in slot.deaths if now - t < RESTART_WINDOW] + [now]
            log.warning("worker_died", slot=slot.index, gpu=slot.gpu, status=slot.process.returncode)
            slot.process = None
            if len(slot.deaths) > self.max_restarts:
                log.error("worker_crash_loop", slot=slot.index, deaths=len(slot.deaths), window_s=RESTART_WINDOW)
                self.failed = self.stopping = True
                return
            slot.restart_at = now + min(30.0, self.backoff_seconds * 2.0 ** (len(slot.deaths) - 1))
        if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
            self._start(slot)

    def run(self) -> int:
        for slot in self.slots:
            self._start(slot)
        while not self.stopping:
            now = self.clock()
            for slot in self.slots:
                if not self.stopping:
                    self._check(slot, now)
            time.sleep(POLL_SECONDS)
        self._stop_all()
        return 1 if self.failed else 0

    def _stop_all(self) -> None:
        """SIGTERM to every worker (each drains as a lone process would), SIGKILL to any still running
        after the grace period."""
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = self.clock() + self.grace_seconds
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("worker_killed", pid=process.pid, grace_s=self.grace_seconds)
                process.kill()
                process.wait()
        log.info("pool_stopped", workers=len(running))


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] != "--" or len(args) < 2):
        sys.exit("usage: python -m services.synthesis.worker_pool [-- command [args...]]")
    command = args[1:] or [sys.executable, "-m", "services.synthesis.main"]
    settings = SynthesisSettings()
    configure_logging("synthesis-worker-pool", settings.log_level, settings.log_format)
    assert settings.grpc_port is not None and settings.metrics_port is not None  # set by model_post_init
    slots = plan(
        visible_gpus(os.environ),
        settings.workers_per_gpu,
        settings.cpu_workers,
        settings.grpc_port,
        settings.metrics_port,
        os.environ,
    )
    if len(slots) == 1:
        os.execvpe(command[0], command, slots[0].env)
    log.info("pool_starting", workers=len(slots), gpus=sorted({s.gpu for s in slots if s.gpu is not None}))
    # The workers' own grace, plus time for the slowest of them to be reaped.
    pool = WorkerPool(command, slots, grace_seconds=settings.shutdown_grace_seconds + 5.0)
    signal.signal(signal.SIGTERM, pool.stop)
    signal.signal(signal.SIGINT, pool.stop)
    sys.exit(pool.run())


if __name__ == "__main__":
    main()
