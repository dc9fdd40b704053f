"""Uploads are read in the threadpool now; the size cap still holds and the bytes still reach the service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.fakes.gateway import FakeTenancy, FakeWatermark, fake_backends

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _gateway(watermark: FakeWatermark, cap: int) -> TestClient:
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), watermark=watermark)
    return TestClient(create_app(GatewaySettings(max_upload_bytes=cap), backends=backends))


def test_upload_reaches_the_service_whole():
    watermark = FakeWatermark()
    data = bytes(range(256)) * 5000  # over one read chunk (1 MiB)
    answer = _gateway(watermark, cap=2_000_000).post(
        "/v1/watermark/detect", files={"file": ("a.wav", data)}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "watermarked": False,
        "confidence": 0.01,
        "generation_id": None,
        "tempo": None,
        "pitch_semitones": None,
    }
    assert watermark.detected == [data]


def test_upload_over_the_cap_is_413_and_never_sent():
    watermark = FakeWatermark()
    answer = _gateway(watermark, cap=100).post(
        "/v1/watermark/detect", files={"file": ("a.wav", bytes(101))}, headers=AUTH
    )
    assert answer.status_code == 413
    assert answer.json()["reason"] == "AUDIO_TOO_LARGE"
    assert watermark.detected == []
