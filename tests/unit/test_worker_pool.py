"""The synthesis worker pool: N workers per GPU, each pinned to its GPU on ports of its own, a dead
worker restarted, SIGTERM passed on to every worker; run with a trivial child instead of the service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.synthesis.worker_pool import Slot, WorkerPool, plan, visible_gpus

ROOT = Path(__file__).resolve().parents[2]

# A stand-in worker: says who it is (pid, GPU, ports) in a file, then waits for SIGTERM and says so.
CHILD = """
import json, os, signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
def stopped(*_):
    (out / f"{os.getpid()}.stopped").write_text("")
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
keys = ("CUDA_VISIBLE_DEVICES", "TIMBRE_GRPC_PORT", "TIMBRE_METRICS_PORT", "TIMBRE_ROLE")
(out / f"{os.getpid()}.tmp").write_text(json.dumps({k: os.environ.get(k) for k in keys}))
(out / f"{os.getpid()}.tmp").rename(out / f"{os.getpid()}.json")
while True:
    time.sleep(0.05)
"""


def started(folder: Path) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text()) for p in folder.glob("*.json")}


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_visible_gpus_from_cuda_visible_devices_or_the_device_nodes(tmp_path):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 3"}) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-1a2b,-1,4"}) == ["GPU-1a2b"]  # CUDA stops at -1
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, tmp_path) == []
    for name in ("nvidia5", "nvidia7", "nvidiactl", "nvidia-uvm"):  # a container's two GPUs, host-numbered
        (tmp_path / name).touch()
    assert visible_gpus({}, tmp_path) == ["0", "1"]
    assert visible_gpus({}, tmp_path / "absent") == []


def test_plan_pins_each_worker_to_its_gpu_on_ports_of_its_own():
    slots = plan(["0", "1"], 2, 5, 50053, 9103, {"TIMBRE_ROLE": "worker"})
    assert [(s.gpu, s.env["TIMBRE_GRPC_PORT"], s.env["TIMBRE_METRICS_PORT"]) for s in slots] == [
        ("0", "50053", "9103"),
        ("0", "50054", "9104"),
        ("1", "50055", "9105"),
        ("1", "50056", "9106"),
    ]
    assert all(s.env["CUDA_VISIBLE_DEVICES"] == s.gpu and s.env["TIMBRE_ROLE"] == "worker" for s in slots)
    cpu = plan([], 2, 3, 50053, 9103, {})
    assert [s.gpu for s in cpu] == [None] * 3 and all("CUDA_VISIBLE_DEVICES" not in s.env for s in cpu)


def test_the_pool_starts_restarts_and_stops_its_workers(tmp_path):
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES="0,1",
        TIMBRE_WORKERS_PER_GPU="2",
        TIMBRE_GRPC_PORT="6100",
        TIMBRE_METRICS_PORT="6200",
        TIMBRE_ROLE="worker",
    )
    command = [sys.executable, "-m", "services.synthesis.worker_pool", "--", sys.executable, "-c", CHILD, str(tmp_path)]
    pool = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for(lambda: len(started(tmp_path)) == 4)
        workers = started(tmp_path)
        assert sorted(
            (w["CUDA_VISIBLE_DEVICES"], w["TIMBRE_GRPC_PORT"], w["TIMBRE_METRICS_PORT"]) for w in workers.values()
        ) == [
            ("0", "6100", "6200"),
            ("0", "6101", "6201"),
            ("1", "6102", "6202"),
            ("1", "6103", "6203"),
        ]
        assert all(w["TIMBRE_ROLE"] == "worker" for w in workers.values())

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(started(tmp_path)) == 5)  # its replacement, in its place
        [replacement] = [w for pid, w in started(tmp_path).items() if pid not in workers]
        assert replacement == workers[victim]

        pool.send_signal(signal.SIGTERM)
        assert pool.wait(timeout=30) == 0
        alive = set(started(tmp_path)) - {victim}
        assert {int(p.stem) for p in tmp_path.glob("*.stopped")} == alive  # each drained on SIGTERM
    finally:
        if pool.poll() is None:
            pool.kill()


def test_a_worker_that_keeps_dying_stops_the_pool_with_an_error():
    # A crash loop must reach the orchestrator (the container exits) rather than hide in the pool.
    slot = Slot(0, None, dict(os.environ))
    command = [sys.executable, "-c", "raise SystemExit(3)"]
    pool = WorkerPool(command, [slot], grace_seconds=5, max_restarts=2, backoff_seconds=0.01)
    assert pool.run() == 1
    assert len(slot.deaths) == 3  # the first start and two restarts


@pytest.mark.parametrize("gpus", ["", "0"])
def test_one_slot_runs_the_worker_itself(tmp_path, gpus):
    # One worker needs no supervisor: the pool process becomes the worker (same pid), pinned as planned.
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=gpus, TIMBRE_GRPC_PORT="6300", TIMBRE_METRICS_PORT="6400")
    script = (
        "import json, os; e = os.environ;"
        "print(json.dumps([os.getpid(), e['CUDA_VISIBLE_DEVICES'], e['TIMBRE_GRPC_PORT']]))"
    )
    pool = subprocess.Popen(
        [sys.executable, "-m", "services.synthesis.worker_pool", "--", sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = pool.communicate(timeout=60)
    assert pool.returncode == 0
    pid, pinned, port = json.loads(out.strip().splitlines()[-1])
    assert (pid, pinned, port) == (pool.pid, gpus, "6300")
