"""The live speech WebSocket (/v1/voices/{id}/speech/ws) against a fake SynthesizeLive."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.errors import NotFound
from tests.fakes.gateway import FakeSynthesis, FakeTenancy, fake_backends
from timbre.v1 import common_pb2

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
PATH = "/v1/voices/v-1/speech/ws"


@pytest.fixture
def synthesis() -> FakeSynthesis:
    return FakeSynthesis(failures={"v-gone": NotFound("voice not found")})


@pytest.fixture
def gateway(synthesis) -> TestClient:
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), synthesis=synthesis)
    return TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)


def test_text_in_pieces_comes_back_as_audio_then_the_totals(gateway, synthesis):
    with gateway.websocket_connect(PATH, headers=AUTH) as socket:
        socket.send_json({"format": "pcm_16000", "language": "en", "max_characters": 300, "text": "Hello "})
        assert socket.receive_json() == {"event": "start", "generation_id": "2147483700"}
        assert socket.receive_bytes() == b"Hello "  # the first piece's audio before the next piece is sent
        socket.send_json({"text": "world.", "flush": True})
        assert socket.receive_bytes() == b"world."
        socket.send_json({"end": True})
        done = socket.receive_json()
        assert done == {"event": "done", "generation_id": "2147483700", "characters": 12, "audio_seconds": 1.5}
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_bytes()
        assert closed.value.code == 1000
    opening, more = synthesis.live_sessions[0]
    assert (opening.voice_id, opening.max_characters, opening.options.language) == ("v-1", 300, "en")
    assert opening.options.format == common_pb2.AUDIO_FORMAT_PCM_16000
    assert (more.text, more.flush, more.voice_id) == ("world.", True, "")


def test_no_key_is_refused_before_the_upgrade(gateway, synthesis):
    with pytest.raises(WebSocketDenialResponse) as denied:
        with gateway.websocket_connect(PATH):
            pass
    assert denied.value.status_code == 401
    assert synthesis.live_sessions == []


def test_a_refusal_is_a_problem_frame_and_a_4000_plus_status_close(gateway):
    with gateway.websocket_connect("/v1/voices/v-gone/speech/ws", headers=AUTH) as socket:
        socket.send_json({"text": "Hi."})
        error = socket.receive_json()
        assert (error["event"], error["status"], error["reason"]) == ("error", 404, "NOT_FOUND")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4404


@pytest.mark.parametrize("frame", ['{"bogus": 1}', "not json", '{"format": "aiff"}', '{"text": 5}'])
def test_a_bad_first_message_is_refused_with_the_reason(gateway, synthesis, frame):
    with gateway.websocket_connect(PATH, headers=AUTH) as socket:
        socket.send_text(frame)
        error = socket.receive_json()
        assert (error["event"], error["status"], error["reason"]) == ("error", 400, "INVALID_ARGUMENT")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4400
    assert synthesis.live_sessions == []
