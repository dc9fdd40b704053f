"""The compose stack (deploy/compose) as an operator runs it: Timbre's Docker daemon
(scripts/start_dockerd.sh), the images (scripts/build_images.sh: a no-op when they match the tree),
`compose up` until every service is healthy, the demo flow through the compose gateway (tenant, enroll,
consent, ready, speech in Thai and English, watermark detection), and the teardown, always.

Run with `make test-containers` (builds the images first). Skipped, with the reason, where no Docker
daemon can be had (not root, no docker.io)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.containers

REPO = Path(__file__).resolve().parents[2]
TIMBRE = str(Path(sys.executable).with_name("timbre"))
# Ports of its own, so that a compose stack started by hand (18080, 15051...) and the local process
# stack (8080, 50051...) may run beside the test.
PORTS = {
    "GATEWAY": 28080,
    "PG": 25432,
    "KAFKA": 29092,
    "S3": 29000,
    "STRIPE": 23111,
    "TENANCY": 25051,
    "EMBEDDING": 25052,
    "SYNTHESIS": 25053,
    "WATERMARK": 25054,
    "BILLING": 25055,
}


def _docker_host() -> str:
    result = subprocess.run(
        [str(REPO / "scripts/start_dockerd.sh")], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["scripts/start_dockerd.sh failed"])[-1]
        pytest.skip(f"no Docker daemon: {reason}")
    return subprocess.run(
        [str(REPO / "scripts/start_dockerd.sh"), "--host"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _env_without_timbre() -> dict[str, str]:
    """The caller's environment minus the TIMBRE_ settings the test suite's conftest made for its own
    local stack."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TIMBRE_")}


@pytest.mark.timeout(1800)  # a warm run takes a few minutes; building the images cold ~15 (make images first)
def test_compose_stack_runs_the_demo(tmp_path, capsys):
    docker_host = _docker_host()
    timings: dict[str, float] = {}

    started = time.monotonic()
    subprocess.run([str(REPO / "scripts/build_images.sh")], cwd=REPO, check=True, timeout=1500)
    timings["images"] = time.monotonic() - started

    project = f"timbre-test-{secrets.token_hex(3)}"
    compose_env = _env_without_timbre() | {
        "DOCKER_HOST": docker_host,
        "TIMBRE_COMPOSE_PROJECT": project,
        "TIMBRE_COMPOSE_SECRETS": str(tmp_path / "secrets"),
        "TIMBRE_COMPOSE_VOLUMES": "1",  # `down` removes this project's volumes
        **{f"TIMBRE_COMPOSE_{name}_PORT": str(port) for name, port in PORTS.items()},
    }
    if os.environ.get("TIMBRE_MODEL_PATH"):
        compose_env["TIMBRE_MODELS_SEED"] = os.environ["TIMBRE_MODEL_PATH"]

    def compose(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REPO / "scripts/compose.sh"), *args],
            cwd=REPO,
            env=compose_env,
            check=check,
            timeout=timeout,
            capture_output=True,
            text=True,
        )

    try:
        started = time.monotonic()
        up = compose("up", check=False)
        timings["compose up → all healthy"] = time.monotonic() - started
        assert up.returncode == 0, up.stdout + up.stderr
        assert "services healthy" in up.stdout, up.stdout

        secrets_env = tmp_path / "secrets" / "secrets.env"
        demo_env = _env_without_timbre() | {
            "TIMBRE_ENV_FILE": str(secrets_env),  # the operator secret compose.sh generated
            "TIMBRE_TENANCY_ADDR": f"127.0.0.1:{PORTS['TENANCY']}",
            "TIMBRE_EMBEDDING_ADDR": f"127.0.0.1:{PORTS['EMBEDDING']}",
            "TIMBRE_STATE_DIR": str(tmp_path / "demo-state"),
        }
        if os.environ.get("TIMBRE_MODEL_PATH"):  # the sample speaker is made from the host's store
            demo_env["TIMBRE_MODEL_PATH"] = os.environ["TIMBRE_MODEL_PATH"]
        started = time.monotonic()
        demo = subprocess.run(
            [TIMBRE, "demo", "--gateway", f"http://127.0.0.1:{PORTS['GATEWAY']}", "--no-stack"],
            cwd=tmp_path,
            env=demo_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        timings["demo flow"] = time.monotonic() - started
        output = demo.stdout + demo.stderr
        assert demo.returncode == 0, output
        assert re.search(r"^\s+ready\b", demo.stdout, re.MULTILINE), output  # the clone was built (step 6)
        assert output.count("bytes in") == 2, output  # Thai and English speech answered 200 (step 7)
        assert output.count('"watermarked": true') == 2, output  # both marks detected (step 8)
        assert "demo: done" in output, output
        for language in ("th", "en"):
            assert (tmp_path / "demo-state" / "demo" / f"speech-{language}.mp3").stat().st_size > 1000
        console = f"http://127.0.0.1:{PORTS['GATEWAY']}/console/"
        assert f"console: open {console}" in output, output
        shell = httpx.get(console, timeout=30)  # the image carries the console's build
        assert shell.status_code == 200 and '<div id="root">' in shell.text, shell.text[:500]
        assert "script-src 'self'" in shell.headers["content-security-policy"]
    except BaseException:
        logs = compose("logs", "--no-color", "--tail", "40", check=False, timeout=120)
        print(logs.stdout[-20000:])
        raise
    finally:
        started = time.monotonic()
        compose("down", check=False, timeout=300)
        timings["compose down -v"] = time.monotonic() - started
        with capsys.disabled():
            print()
            for step, seconds in timings.items():
                print(f"  containers: {step:<26} {seconds:6.1f} s")
