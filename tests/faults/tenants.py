"""Tenants and voices of the fault run, made through the cluster's public edges (operator gRPC calls and
the gateway), before any fault."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from cli.admin import grant_written_consent
from cli.client import operator_channel
from kit.config import KitSettings
from kit.grpc.convert import TIER_CODES
from tests.integration.enrollment_helpers import speech
from tests.scale.cluster import Cluster
from timbre.v1 import tenancy_pb2, tenancy_pb2_grpc

DEV_VOICES = Path(__file__).resolve().parents[1] / "data" / "dev-voices"
FINAL_VOICE_STATES = {"ready", "rejected", "disabled", "deleted"}


def operator(cluster: Cluster) -> KitSettings:
    """The operator's view of the cluster: its secret (the test run's) and the cluster's addresses."""
    return KitSettings(
        tenancy_addr=cluster.env["TIMBRE_TENANCY_ADDR"], embedding_addr=cluster.env["TIMBRE_EMBEDDING_ADDR"]
    )


def create_tenant(cluster: Cluster, tier: str, name: str) -> tuple[str, str]:
    """(tenant id, API key)"""
    settings = operator(cluster)
    with operator_channel(settings, settings.tenancy_addr) as channel:
        reply = tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
            tenancy_pb2.CreateTenantRequest(name=name, tier=TIER_CODES[tier])
        )
    return reply.tenant.tenant_id, reply.api_key_secret


def client(cluster: Cluster, api_key: str, timeout: float, gateway: int = 0) -> httpx.Client:
    port = cluster.gateways[gateway % len(cluster.gateways)].port
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
    )


def enroll(http: httpx.Client, audio: bytes, name: str, filename: str = "v.wav") -> str:
    reply = http.post("/v1/voices", data={"name": name, "language": "en"}, files=[("files", (filename, audio))])
    assert reply.status_code == 202, reply.text
    return reply.json()["id"]


def voice(http: httpx.Client, voice_id: str) -> dict | None:
    """The voice as its owner sees it; None while the system cannot answer (a fault)."""
    try:
        reply = http.get(f"/v1/voices/{voice_id}")
    except httpx.HTTPError:
        return None
    return reply.json() if reply.status_code == 200 else None


def wait_voice(http: httpx.Client, voice_id: str, done, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = voice(http, voice_id)
        if seen is not None and done(seen):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"voice {voice_id} after {timeout:.0f}s: {seen}")


def consent(cluster: Cluster, voice_id: str, owner: str) -> None:
    form = f"{owner} consents to this tenant speaking in their voice.".encode()
    grant_written_consent(
        operator(cluster),
        voice_id,
        hashlib.sha256(form).hexdigest(),
        datetime.now(UTC) + timedelta(days=30),
        owner,
        "faults",
    )


def analysed(v: dict) -> bool:
    """Consent can be granted once the recording has been heard (or the voice is already decided)."""
    return v["status"] != "processing" or v["progress"] >= 0.5


def ready_voice(cluster: Cluster, http: httpx.Client, speaker: str, name: str, timeout: float = 300) -> str:
    """An espeak speaker enrolled, consented, built and speakable (synthesis knows the consent)."""
    voice_id = enroll(http, speech(speaker, 0, 1), name)
    heard = wait_voice(http, voice_id, analysed, timeout)
    assert heard["status"] != "rejected", heard
    consent(cluster, voice_id, name)
    built = wait_voice(http, voice_id, lambda v: v["status"] != "processing", timeout)
    assert built["status"] == "ready", built
    deadline = time.monotonic() + 60
    while True:
        reply = http.post(f"/v1/voices/{voice_id}/speech", json={"text": "Hi.", "language": "en", "format": "mp3"})
        if reply.status_code == 200:
            return voice_id
        assert reply.json().get("reason") == "CONSENT_REQUIRED" and time.monotonic() < deadline, reply.text
        time.sleep(0.5)


def enrollment_recordings(count: int) -> list[tuple[str, str, bytes]]:
    """(owner name, file name, audio) for the enrollments made during the faults: the real dev voices
    first, then espeak speakers. Distinct speakers, so none is refused as another voice's duplicate."""
    recordings = [(p.stem, p.name, p.read_bytes()) for p in sorted(DEV_VOICES.glob("*.flac"))]
    espeak = ["en-us+m3", "en-us+m5", "en-us+f3", "en-us+m1", "en-us+f1"]
    recordings += [(s, "v.wav", speech(s, 2, 3)) for s in espeak]
    return recordings[:count]
