"""The web console end to end in real headless Chromium, against the stack as an operator runs it
(`timbre stack up`: the gateway on 127.0.0.1:8080 serves /console/).

This module prepares what a person would have (a pro tenant's key; a free tenant with a ready voice;
a real speaker's recording as Chromium's fake microphone), runs console/e2e with `node --test`
(playwright-core drives Debian's chromium), then checks the files the browser downloaded and prints
the figures. Screenshots and figures: .run/console-e2e/ (kept after the run; look at them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from kit.audio.codec import decode, encode
from tests.stack_cli import REPO, timbre

pytestmark = pytest.mark.browser

GATEWAY = "http://127.0.0.1:8080"
OUT = REPO / ".run" / "console-e2e"
LEFTOVERS = REPO / ".run" / "console-e2e-tenants.json"
VOICES = REPO / "tests" / "data" / "dev-voices"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def delete_voices(http: httpx.Client, key: str) -> None:
    """Frees the speakers for the next run: the cross-tenant index refuses a voice registered elsewhere."""
    listed = http.get("/v1/voices", headers=auth(key), params={"page_size": 100})
    if listed.status_code != 200:
        return
    for voice in listed.json()["items"]:
        http.delete(f"/v1/voices/{voice['id']}", headers=auth(key))


def wait_voice(http: httpx.Client, key: str, voice_id: str, until, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = http.get(f"/v1/voices/{voice_id}", headers=auth(key)).raise_for_status().json()
        if until(voice):
            return voice
        time.sleep(0.5)
    raise AssertionError(f"voice {voice_id} stuck: {voice}")


@pytest.fixture(scope="module")
def stack():
    if not (REPO / "console" / "dist" / "index.html").is_file():
        pytest.fail("the console is not built: run `make console`")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: scripts/install_system.sh installs Debian's chromium")
    timbre("stack", "up")
    with httpx.Client(base_url=GATEWAY, timeout=120) as http:
        if LEFTOVERS.exists():  # an earlier run that stopped before its clean-up
            for key in json.loads(LEFTOVERS.read_text()):
                delete_voices(http, key)
        yield http


@pytest.fixture(scope="module")
def tenants(stack: httpx.Client):
    run = datetime.now(UTC).strftime("%H%M%S")
    pro = json.loads(timbre("admin", "tenant", "create", "--name", f"Console E2E {run}", "--tier", "pro"))
    pro["name"] = f"Console E2E {run}"
    free = json.loads(timbre("admin", "tenant", "create", "--name", f"Console Free {run}", "--tier", "free"))
    LEFTOVERS.parent.mkdir(parents=True, exist_ok=True)
    LEFTOVERS.write_text(json.dumps([pro["api_key"], free["api_key"]]))
    yield pro, free
    for tenant in (pro, free):
        delete_voices(stack, tenant["api_key"])
    LEFTOVERS.unlink(missing_ok=True)


def free_tenant_voice(http: httpx.Client, key: str) -> str:
    """The free tenant's one voice, ready: a second real speaker, consent granted in writing."""
    clip = decode((VOICES / "de_Klaus_Neubauer.flac").read_bytes())
    audio = encode(np.concatenate([clip.samples] * 3), clip.sample_rate, "flac")
    enrolled = http.post(
        "/v1/voices",
        headers=auth(key),
        data={"name": "Free voice", "language": "en"},
        files=[("files", ("klaus.flac", audio, "audio/flac"))],
    )
    assert enrolled.status_code == 202, enrolled.text
    voice_id = enrolled.json()["id"]
    wait_voice(http, key, voice_id, lambda v: v["status"] != "processing" or v["progress"] >= 0.5)
    form = hashlib.sha256(b"signed consent form of the console's free-tier test").hexdigest()
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    timbre("admin", "consent", "grant", "--voice", voice_id, "--document-sha256", form, "--expires", expires)
    voice = wait_voice(http, key, voice_id, lambda v: v["status"] != "processing")
    assert voice["status"] == "ready", voice
    return voice_id


def fake_microphone() -> Path:
    """Chromium plays this WAV (16-bit PCM) as the microphone, looping: a real speaker reading."""
    clip = decode((VOICES / "de_Christina_Lindgruen.flac").read_bytes(), target_rate=48000)
    path = OUT / "fake-mic.wav"
    path.write_bytes(encode(clip.samples, clip.sample_rate, "wav"))
    return path


@pytest.mark.timeout(1800)  # the stack's start, a voice built, then the browser's ~2 minutes
def test_console_in_chromium(stack: httpx.Client, tenants):
    pro, free = tenants
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    free_tenant_voice(stack, free["api_key"])
    env = {
        **os.environ,
        "CONSOLE_URL": f"{GATEWAY}/console/",
        "E2E_OUT": str(OUT),
        "FAKE_MIC_WAV": str(fake_microphone()),
        "PRO_KEY": pro["api_key"],
        "PRO_TENANT_NAME": pro["name"],
        "FREE_KEY": free["api_key"],
        "CHROMIUM": CHROMIUM,
    }
    started = time.monotonic()
    # The runner's report goes to a file as it is written, so a run cut short still shows how far it got.
    report = OUT / "e2e.log"
    with report.open("w") as sink:
        result = subprocess.run(
            ["node", "--test", "--test-reporter=spec", "e2e/"],
            cwd=REPO / "console",
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=1500,
        )
    figures = OUT / "figures.json"
    if figures.exists():
        print(f"console e2e figures ({time.monotonic() - started:.0f} s):\n{figures.read_text()}")
    # The runner's report last: its closing "failing tests" section is what a truncated CI log keeps.
    log = report.read_text()
    print(log[-20000:])
    failing = log[log.rfind("failing tests:") :] if "failing tests:" in log else ""
    assert result.returncode == 0, (
        f"console e2e failed (screenshots in .run/console-e2e/screenshots):\n{failing[:4000]}"
    )
    for name in ("speech.mp3", "job.mp3"):
        clip = decode((OUT / name).read_bytes())
        assert clip.seconds > 0.5, f"{name}: {clip.seconds} s"
