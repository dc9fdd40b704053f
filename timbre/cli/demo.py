"""`timbre demo` — the main job on the embedded default, end to end through the public edges.

Stack up → the demo tenant (created once, kept in .run/demo-tenant.json) → GET /v1/me → enroll a
sample voice the project makes (the Piper "joe" speaker) through REST → wait for its status →
clone that voice with the embedded engine and speak one Thai and one English sentence → mark them
through the watermark service → detect the marks through REST.
Until the synthesis service lands (issue 6), the clone is built and spoken in this process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import httpx

from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from timbre.cli.client import operator_channel
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc, watermark_pb2, watermark_pb2_grpc

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
            tenancy_pb2.CreateTenantRequest(name="Demo Studio", tier=TIER_CODES["pro"]))
    path.write_text(json.dumps({"tenant_id": reply.tenant.tenant_id, "api_key": reply.api_key_secret}))
    path.chmod(0o600)
    click.echo(f"    created tenant {reply.tenant.tenant_id}, key {reply.api_key.prefix}…")
    return reply.api_key_secret


def _wait_voice(http: httpx.Client, voice_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = http.get(f"/v1/voices/{voice_id}").raise_for_status().json()
        if voice["status"] != "processing":
            return voice
        time.sleep(0.5)
    raise click.ClickException(f"voice {voice_id} still processing after {timeout:.0f}s")


@click.command()
@click.option("--gateway", default=GATEWAY, show_default=True)
def demo(gateway: str) -> None:
    """Start the stack and run the main job."""
    from timbre import samples
    from timbre.stack import stack

    _step(1, "stack up")
    stack.up()
    settings = KitSettings()  # reads the secrets `stack up` wrote

    with httpx.Client(base_url=gateway, timeout=60) as http:
        _step(2, "the demo tenant (operator creates it once)")
        api_key = _demo_tenant(settings, stack.state_paths().root, http)
        http.headers["Authorization"] = f"Bearer {api_key}"

        _step(3, "GET /v1/me")
        click.echo(json.dumps(http.get("/v1/me").raise_for_status().json(), indent=2))

        _step(4, "enroll a sample voice: the Piper 'joe' speaker reading two passages (POST /v1/voices)")
        audio = samples.wav_bytes(samples.joe(samples.PASSAGES[0] + " " + samples.PASSAGES[1]), fmt="flac")
        reply = http.post("/v1/voices", data={"name": "Joe (sample)", "language": "en"},
                          files=[("files", ("joe.flac", audio, "audio/flac"))])
        if reply.status_code != 202:
            raise click.ClickException(f"POST /v1/voices answered {reply.status_code}: {reply.text}")
        click.echo(f"    202 {reply.json()['status']} {reply.json()['id']}")
        voice = _wait_voice(http, reply.json()["id"])
        click.echo(json.dumps(voice, indent=2))
        if voice["status"] != "ready":
            raise click.ClickException(f"the sample voice was {voice['status']}: {voice.get('status_detail')}")

        _step(5, "clone the enrolled recording with the embedded engine and speak Thai and English")
        clips = _speak_with_clone(samples, samples.PASSAGES[0] + " " + samples.PASSAGES[1])

        _step(6, "watermark each clip (WatermarkService.Embed) and detect it through POST /v1/watermark/detect")
        out = stack.state_paths().root / "demo"
        out.mkdir(exist_ok=True)
        with operator_channel(settings, settings.watermark_addr) as channel:
            marker = watermark_pb2_grpc.WatermarkServiceStub(channel)
            for language, wav in clips.items():
                marked = marker.Embed(watermark_pb2.EmbedRequest(audio=wav))
                path = out / f"speech-{language}.wav"
                path.write_bytes(marked.audio)
                found = http.post("/v1/watermark/detect", files=[("file", (path.name, marked.audio, "audio/wav"))])
                found = found.raise_for_status().json()
                click.echo(f"    {path}: generation {marked.generation_id} → detect {json.dumps(found)}")
                if not found.get("watermarked") or found.get("generation_id") != marked.generation_id:
                    raise click.ClickException(f"the mark in {path} was not found")
    click.secho("demo: done", fg="green")


def _speak_with_clone(samples, transcript: str) -> dict[str, bytes]:
    import numpy as np
    import torch

    from services.synthesis.engine.embedded import EmbeddedEngine
    from services.synthesis.engine.interface import SpeechOptions

    torch.set_num_threads(1)
    engine = EmbeddedEngine()
    started = time.monotonic()
    voice = engine.build_voice([samples.joe(transcript)], transcript)
    click.echo(f"    voice built in {time.monotonic() - started:.1f} s ({len(voice)} bytes)")
    sentences = {"th": "สวัสดีครับ ยินดีต้อนรับสู่ทิมเบอร์ เสียงนี้สร้างขึ้นเมื่อวันที่ 26/11/2026",
                 "en": "Hello from Timbre. This sentence was spoken in a cloned voice, and it carries a watermark."}
    clips = {}
    for language, text in sentences.items():
        audio = np.concatenate(list(engine.synthesize(text, voice, SpeechOptions(language=language,
                                                                                  sample_rate=22050))))
        clips[language] = samples.wav_bytes(audio, 22050)
        click.echo(f"    {language}: {len(audio) / 22050:.1f} s of speech")
    return clips
