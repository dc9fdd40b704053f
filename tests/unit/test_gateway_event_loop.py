"""No gateway route may block the event loop: one slow upstream call must not stall other requests."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest
from fastapi.routing import APIRoute

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.fakes.gateway import FakeEmbedding, FakeTenancy, FakeWatermark, Gate, fake_backends

KEY = "tmb_abc_secret"
WAV = b"RIFF" + bytes(64)
UPLOADS = {
    "detect": ("/v1/watermark/detect", {}, {"file": ("a.wav", WAV)}),
    "enroll": ("/v1/voices", {"name": "Ann"}, {"files": ("a.wav", WAV)}),
    "verify": ("/v1/voices/v-1/verify", {}, {"file": ("a.wav", WAV)}),
    "consent": (
        "/v1/voices/v-1/consent",
        {
            "challenge_id": "ch-1",
            "owner_name": "Ann",
            "purpose": "audiobooks",
            "expires_at": "2030-01-01T00:00:00+00:00",
            "prohibited_uses_acknowledged": "fraud_impersonation",
        },
        {"file": ("consent.wav", WAV)},
    ),
}


async def _health_during_slow_upload(route: str) -> tuple[int, bool, int]:
    gate = Gate(timeout=5.0)  # a blocked loop answers /health only once this lapses
    backends = fake_backends(
        tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}),
        embedding=FakeEmbedding(gate=gate),
        watermark=FakeWatermark(gate=gate),
    )
    app = create_app(GatewaySettings(), backends=backends)
    path, data, files = UPLOADS[route]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        upload = asyncio.create_task(
            client.post(path, data=data, files=files, headers={"Authorization": f"Bearer {KEY}"})
        )
        while not gate.entered.is_set() and not upload.done():
            await asyncio.sleep(0.005)
        health = await client.get("/health")
        upload_still_in_flight = not gate.finished.is_set()
        gate.release.set()
        uploaded = await upload
    return health.status_code, upload_still_in_flight, uploaded.status_code


@pytest.mark.parametrize("route", sorted(UPLOADS))
def test_unrelated_request_is_answered_while_an_upload_call_is_slow(route):
    # The gate holds the upstream call until /health has answered (or 5 s pass): a blocked event loop
    # answers /health only after the gate gave up. No wall-clock bound: this machine's load varies.
    status, upload_still_in_flight, upload_status = asyncio.run(_health_during_slow_upload(route))
    assert status == 200
    assert upload_still_in_flight, "/health was answered only after the slow upstream call had ended"
    assert upload_status in (200, 201, 202)


def test_no_route_is_a_coroutine():
    # Every route calls blocking gRPC stubs; only plain `def` routes run in the threadpool.
    app = create_app(GatewaySettings(), backends=fake_backends())
    coroutines = [r.path for r in app.routes if isinstance(r, APIRoute) and inspect.iscoroutinefunction(r.endpoint)]
    assert coroutines == []
