"""/ready asks every service behind the gateway, the synthesis service included."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.fakes.gateway import fake_backends
from tests.fakes.gateway_health import NOT_SERVING, SERVING, health_server

NAMES = ("tenancy", "billing", "embedding", "watermark", "synthesis")


def _ready(addresses: dict[str, str]):
    settings = GatewaySettings().model_copy(update={f"{name}_addr": addresses[name] for name in NAMES})
    app = create_app(settings, backends=fake_backends())
    with TestClient(app) as client:
        return client.get("/ready")


def test_ready_only_when_every_upstream_serves():
    with health_server(SERVING) as up:
        ready = _ready(dict.fromkeys(NAMES, up))
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": dict.fromkeys(NAMES, "SERVING"),
    }


def test_synthesis_not_serving_makes_the_gateway_not_ready():
    with health_server(SERVING) as up, health_server(NOT_SERVING) as down:
        ready = _ready({**dict.fromkeys(NAMES, up), "synthesis": down})
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["synthesis"] == "NOT_SERVING"
    assert {v for k, v in ready.json()["checks"].items() if k != "synthesis"} == {"SERVING"}
