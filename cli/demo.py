"""`timbre demo` — the main job on the embedded default, end to end through the public edges.

Stack up → the demo tenant (created once, kept in .run/demo-tenant.json) → GET /v1/me → remove the
sample voices of earlier runs (each holds one of the tier's voice profiles) → enroll a sample voice the
project makes (the Piper "joe" speaker) through REST → the operator records the owner's written
consent → the synthesis service builds the clone (status ready) → speak one Thai and one English
sentence through REST to files → detect the watermark in them through REST and print each
generation's provenance.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import httpx

from cli.admin import grant_written_consent
from cli.client import operator_channel
from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

GATEWAY = "http://127.0.0.1:8080"


def _step(number: int, text: str) -> None:
    click.secho(f"[{number}] {text}", bold=True)


def _demo_tenant(settings: KitSettings, state: Path, http: httpx.Client) -> str:
    """The demo tenant's API key: reused across runs so its voices stay its own."""
    path = state / "demo-tenant.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if http.get("/v1/me", headers={"Authorization": f"Bearer {saved['api_key']}"}).status_code == 200:
            click.echo(f"    reusing tenant {saved['tenant_id']}")
            return saved["api_key"]
    with operator_channel(settings, settings.tenancy_addr) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="Demo Studio", tier=TIER_CODES["pro"])
        )
    path.write_text(json.dumps({"tenant_id": reply.tenant.tenant_id, "api_key": reply.api_key_secret}))
    path.chmod(0o600)
    click.echo(f"    created tenant {reply.tenant.tenant_id}, key {reply.api_key.prefix}…")
    return reply.api_key_secret


SAMPLE_VOICE = "Joe (sample)"


def _remove_earlier_samples(http: httpx.Client) -> int:
    """Delete the sample voices earlier demo runs enrolled: each holds one of the tier's voice
    profiles, and a rerun would otherwise stop at the limit."""
    earlier, token = [], None
    while True:
        page = http.get("/v1/voices", params={"page_size": 100} | ({"page_token": token} if token else {}))
        page = page.raise_for_status().json()
        earlier += [v["id"] for v in page["items"] if v["name"] == SAMPLE_VOICE]
        token = page.get("next_page_token")
        if not token:
            break
    for voice_id in earlier:
        http.delete(f"/v1/voices/{voice_id}").raise_for_status()
    return len(earlier)


def _enroll_sample(http: httpx.Client, audio: bytes, wait: float) -> httpx.Response:
    """POST the sample; a deleted voice frees its profile a moment later (through its event), so
    VOICE_PROFILE_LIMIT is retried for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        reply = http.post(
            "/v1/voices",
            data={"name": SAMPLE_VOICE, "language": "en"},
            files=[("files", ("joe.flac", audio, "audio/flac"))],
        )
        limited = reply.status_code == 429 and reply.json().get("reason") == "VOICE_PROFILE_LIMIT"
        if not limited or time.monotonic() >= deadline:
            return reply
        time.sleep(1.0)


def _wait_voice(http: httpx.Client, voice_id: str, analysed_only: bool = False, timeout: float = 300) -> dict:
    """Until the voice is analysed (embedding done: progress ≥ 0.5) or, by default, no longer processing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = http.get(f"/v1/voices/{voice_id}").raise_for_status().json()
        if voice["status"] != "processing" or (analysed_only and voice["progress"] >= 0.5):
            return voice
        time.sleep(0.5)
    raise click.ClickException(f"voice {voice_id} still processing after {timeout:.0f}s")


@click.command()
@click.option("--gateway", default=GATEWAY, show_default=True)
@click.option(
    "--no-stack",
    is_flag=True,
    help="Run against a stack already up elsewhere (compose, a cluster): TIMBRE_TENANCY_ADDR and "
    "TIMBRE_OPERATOR_SECRET say where and how to create the tenant; state goes to TIMBRE_STATE_DIR.",
)
def demo(gateway: str, no_stack: bool) -> None:
    """Start the stack and run the main job."""
    from cli import samples
    from devstack import stack

    if no_stack:
        _step(1, f"the stack behind {gateway} (not started here)")
        settings = KitSettings()
        state = settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
    else:
        _step(1, "stack up")
        stack.up()
        settings = KitSettings()  # reads the secrets `stack up` wrote
        state = stack.state_paths().root

    with httpx.Client(base_url=gateway, timeout=60) as http:
        _step(2, "the demo tenant (operator creates it once)")
        api_key = _demo_tenant(settings, state, http)
        http.headers["Authorization"] = f"Bearer {api_key}"

        _step(3, "GET /v1/me")
        click.echo(json.dumps(http.get("/v1/me").raise_for_status().json(), indent=2))

        _step(4, "enroll a sample voice: the Piper 'joe' speaker reading two passages (POST /v1/voices)")
        audio = samples.wav_bytes(samples.joe(samples.PASSAGES[0] + " " + samples.PASSAGES[1]), fmt="flac")
        removed = _remove_earlier_samples(http)
        if removed:
            click.echo(f"    removed {removed} sample voice(s) left by earlier runs (the tier's voice limit)")
        reply = _enroll_sample(http, audio, wait=60 if removed else 0)
        if reply.status_code != 202:
            raise click.ClickException(f"POST /v1/voices answered {reply.status_code}: {reply.text}")
        click.echo(f"    202 {reply.json()['status']} {reply.json()['id']}")
        voice_id = reply.json()["id"]
        voice = _wait_voice(http, voice_id, analysed_only=True)
        if voice["status"] == "rejected":
            raise click.ClickException(f"the sample voice was rejected: {voice.get('status_detail')}")

        _step(5, "the owner's signed consent form, recorded by the operator (timbre admin consent grant)")
        form = b"I, Joe (sample speaker), consent to Timbre's demo tenant speaking in my voice. Signed 2026-11-26."
        granted = grant_written_consent(
            settings,
            voice_id,
            hashlib.sha256(form).hexdigest(),
            datetime.now(UTC) + timedelta(days=365),
            "Joe (sample speaker)",
            "Timbre demo",
        )
        click.echo(f"    consent {granted.consent.consent_id} (written)")
        owner_page = f"{gateway}/console/owner/{granted.owner_token}"

        _step(6, "wait until the synthesis service has built the clone (status ready)")
        voice = _wait_voice(http, voice_id)
        click.echo(f"    {voice['status']} {voice.get('status_detail') or ''}")
        if voice["status"] != "ready":
            raise click.ClickException(f"the sample voice was {voice['status']}: {voice.get('status_detail')}")

        _step(7, "speak one Thai and one English sentence (POST /v1/voices/{id}/speech; English streamed)")
        out = state / "demo"
        out.mkdir(exist_ok=True)
        clips = {}
        for language, text in SENTENCES.items():
            started = time.monotonic()
            # Synthesis learns of the consent from the voice-lifecycle topic, which can trail the voice's
            # `ready` by a moment (most on a loaded machine): CONSENT_REQUIRED then is worth a retry.
            while True:
                reply = http.post(
                    f"/v1/voices/{voice_id}/speech",
                    json={"text": text, "language": language, "format": "mp3", "stream": language == "en"},
                )
                waiting = reply.status_code == 409 and "CONSENT_REQUIRED" in reply.text
                if not waiting or time.monotonic() - started > CONSENT_PROPAGATION_SECONDS:
                    break
                time.sleep(0.5)
            if reply.status_code != 200:
                raise click.ClickException(f"speech answered {reply.status_code}: {reply.text}")
            path = out / f"speech-{language}.mp3"
            path.write_bytes(reply.content)
            clips[path] = int(reply.headers["Timbre-Generation-Id"])
            click.echo(
                f"    {path}: {len(reply.content)} bytes in {time.monotonic() - started:.1f} s, "
                f"generation {clips[path]}"
            )

        _step(8, "detect the watermark through POST /v1/watermark/detect and read the provenance")
        for path, generation_id in clips.items():
            found = http.post("/v1/watermark/detect", files=[("file", (path.name, path.read_bytes(), "audio/mpeg"))])
            found = found.raise_for_status().json()
            click.echo(f"    {path.name}: {json.dumps(found)}")
            if not found.get("watermarked") or found.get("generation_id") != generation_id:
                raise click.ClickException(f"the mark in {path} was not found")
            click.echo(f"    provenance: {json.dumps(_provenance(http, generation_id))}")

        _step(9, "the tenant's usage today (GET /v1/usage, rolled up from the usage events) and billing view")
        usage = _usage_today(http, len(clips))
        click.echo(json.dumps(usage, indent=2))
        click.echo(json.dumps(_billing(http), indent=2))
    click.secho("demo: done", fg="green")
    # The console is the gateway's /console/ (built by `make console`; `make demo` builds it first).
    click.echo(f"console: open {gateway}/console/ and sign in with the demo tenant's API key:")
    click.echo(f"    {api_key}")
    click.echo(f"    (kept in {state / 'demo-tenant.json'}; the browser keeps it in the tab's sessionStorage only)")
    click.echo(f"the sample voice's owner sees its use and can revoke consent at {owner_page}")


def _usage_today(http: httpx.Client, spoken: int, timeout: float = 60) -> dict:
    """Analytics consumes the usage events a moment after the audio left: wait for this run's clips."""
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + timeout
    while True:
        reply = http.get("/v1/usage", params={"from": today, "to": today, "group_by": "model"}).raise_for_status()
        usage = reply.json()
        if usage["totals"]["requests"] >= spoken or time.monotonic() > deadline:
            return usage
        time.sleep(0.5)


def _billing(http: httpx.Client, timeout: float = 30) -> dict:
    """The billing view once Stripe (stripe-mock locally) has the account and this run's usage."""
    deadline = time.monotonic() + timeout
    while True:
        view = http.get("/v1/billing").raise_for_status().json()
        settled = view["stripe_customer_id"] and view["reported_characters"] >= view["used_characters"]
        if settled or time.monotonic() > deadline:
            return view
        time.sleep(0.5)


# How long the demo retries a speech request refused CONSENT_REQUIRED right after the voice is ready.
CONSENT_PROPAGATION_SECONDS = 60.0
SENTENCES = {
    "th": "สวัสดีครับ ยินดีต้อนรับสู่ทิมเบอร์ เสียงนี้สร้างขึ้นเมื่อวันที่ 26/11/2026",
    "en": "Hello from Timbre. This sentence was spoken in a cloned voice, and it carries a watermark.",
}


def _provenance(http: httpx.Client, generation_id: int, timeout: float = 30) -> dict:
    """The registry is fed by the generation events, a moment after the audio left."""
    deadline = time.monotonic() + timeout
    while True:
        reply = http.get(f"/v1/generations/{generation_id}/provenance")
        if reply.status_code == 200 or time.monotonic() > deadline:
            return reply.raise_for_status().json()
        time.sleep(0.5)
