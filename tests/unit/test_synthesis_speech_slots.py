"""Speech requests wait for a slot after authentication, for a bounded time; a refused wait reserves nothing
and reaches the client as 503 + Retry-After."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.errors import Unavailable
from kit.grpc.auth import Principal, reset_principal, set_principal
from services.synthesis.config import SynthesisSettings
from services.synthesis.grpc_api.servicer import SynthesisServicer
from services.synthesis.grpc_api.speech_slots import SpeechSlots
from tests.fakes.gateway import FakeRpcError, FakeSynthesis, FakeTenancy, fake_backends
from timbre.v1 import common_pb2, synthesis_pb2

TENANT = "00000000-0000-0000-0000-000000000001"


@dataclass
class GatedSpeaker:
    """Streams two pieces, the second once `go` is set; counts what it was asked (where quota is reserved)."""

    go: threading.Event = field(default_factory=threading.Event)
    streams: int = 0
    syntheses: int = 0

    def stream(self, caller, request):
        self.streams += 1

        def pieces():
            yield b"a"
            self.go.wait(5)
            yield b"b"

        return 1, pieces()

    def synthesize(self, caller, request):
        self.syntheses += 1
        return SimpleNamespace(generation_id=2, audio=b"x", format="mp3", sample_rate=24000, audio_seconds=0.1)


def _servicer(speaker: GatedSpeaker, slots: int, wait: float) -> SynthesisServicer:
    return SynthesisServicer(cast(Any, speaker), cast(Any, None), cast(Any, None), SpeechSlots(slots, wait))


def _as_tenant(call):
    token = set_principal(Principal("key-1", "tenant", TENANT, "key-1", common_pb2.TIER_PRO))
    try:
        return call()
    finally:
        reset_principal(token)


def _speak(servicer: SynthesisServicer) -> synthesis_pb2.SynthesizeResponse:
    request = synthesis_pb2.SynthesizeRequest(voice_id="v-1", text="hello")
    return _as_tenant(lambda: servicer.Synthesize(request, None))


def test_a_request_waits_for_the_slot_a_stream_holds_and_is_served_when_it_ends():
    speaker = GatedSpeaker()
    servicer = _servicer(speaker, slots=1, wait=10.0)
    request = synthesis_pb2.SynthesizeStreamRequest(voice_id="v-1", text="hello")
    stream = _as_tenant(lambda: servicer.SynthesizeStream(request, None))
    assert _as_tenant(lambda: next(stream)).audio == b"a"  # the stream holds the only slot
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(_speak(servicer)))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and speaker.syntheses == 0  # waiting, nothing reserved yet
    speaker.go.set()
    assert [m.audio for m in stream][-2:] == [b"b", b""]  # the stream ends (its closing message)
    waiting.join(5)
    assert answers and answers[0].audio == b"x" and speaker.syntheses == 1


def test_a_request_not_served_within_the_bound_is_refused_retryable_and_reserves_nothing():
    speaker = GatedSpeaker()
    servicer = _servicer(speaker, slots=1, wait=0.1)
    request = synthesis_pb2.SynthesizeStreamRequest(voice_id="v-1", text="hello")
    stream = _as_tenant(lambda: servicer.SynthesizeStream(request, None))
    _as_tenant(lambda: next(stream))
    with pytest.raises(Unavailable) as refused:
        _speak(servicer)
    assert refused.value.reason == "SPEECH_BUSY" and int(refused.value.metadata["retry_after_seconds"]) >= 1
    assert speaker.syntheses == 0
    refused_stream = _as_tenant(lambda: servicer.SynthesizeStream(request, None))
    with pytest.raises(Unavailable):
        _as_tenant(lambda: next(refused_stream))
    assert speaker.streams == 1
    speaker.go.set()
    list(stream)
    assert _speak(servicer).audio == b"x"  # the slot is back


def test_the_server_has_threads_beyond_the_slots_so_waiting_requests_are_authenticated_on_arrival():
    # A request queued for a gRPC thread has not had its token checked: with as many threads as slots,
    # requests queued there for minutes and were refused 401 when their token expired meanwhile.
    settings = SynthesisSettings()
    assert settings.grpc_workers >= 3 * settings.speech_slots
    assert settings.speech_wait_seconds < 300 / 2  # well inside a token's life (tenant tokens live 300 s)


@dataclass
class BusySynthesis(FakeSynthesis):
    def Synthesize(self, request, metadata=None):
        raise FakeRpcError(Unavailable("all speech slots busy", reason="SPEECH_BUSY", retry_after_seconds=15))

    def SynthesizeStream(self, request, metadata=None):
        raise FakeRpcError(Unavailable("all speech slots busy", reason="SPEECH_BUSY", retry_after_seconds=15))


@pytest.mark.parametrize("stream", [False, True])
def test_the_gateway_answers_a_busy_synthesis_with_503_and_retry_after(stream):
    backends = fake_backends(tenancy=FakeTenancy(api_keys={"tmb_a_s": ("t-a", "k-a")}), synthesis=BusySynthesis())
    client = TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)
    answer = client.post(
        "/v1/voices/v-1/speech",
        json={"text": "hello", "stream": stream},
        headers={"Authorization": "Bearer tmb_a_s"},
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "15"


# --- over a real gRPC server: the token is checked on arrival, not when a thread frees up --------


def _signed(private_key, seconds: float) -> str:
    import time

    import jwt

    from kit.grpc.auth import ALGORITHM, AUDIENCE, ISSUER

    now = int(time.time())
    claims = {"sub": "key-1", "role": "tenant", "tid": TENANT, "kid_api": "key-1", "tier": 2}
    claims |= {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": time.time() + seconds}
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": "k1"})


@pytest.mark.parametrize("threads", [1, 4])
def test_a_request_that_outwaits_its_token_for_a_slot_is_still_served_when_threads_outnumber_slots(threads):
    import json
    import time
    from concurrent import futures

    import grpc
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kit.grpc.auth import JwksVerifier
    from kit.grpc.interceptors import EdgeInterceptor
    from timbre.v1 import synthesis_pb2_grpc

    private = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key())) | {"kid": "k1"}
    verifier = JwksVerifier(lambda: json.dumps({"keys": [jwk]}))
    speaker = GatedSpeaker()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        interceptors=[EdgeInterceptor("synthesis", verifier)],
    )
    synthesis_pb2_grpc.add_SynthesisServiceServicer_to_server(_servicer(speaker, slots=1, wait=30.0), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = synthesis_pb2_grpc.SynthesisServiceStub(channel)
        holder = stub.SynthesizeStream(
            synthesis_pb2.SynthesizeStreamRequest(voice_id="v-1", text="hello"),
            metadata=[("authorization", f"Bearer {_signed(private, 60)}")],
        )
        assert next(holder).audio == b"a"  # holds the only slot (and, with one thread, the only thread)
        waiting = stub.Synthesize.future(
            synthesis_pb2.SynthesizeRequest(voice_id="v-1", text="hello"),
            metadata=[("authorization", f"Bearer {_signed(private, 1.0)}")],
        )
        time.sleep(1.5)  # the waiting request's token expires meanwhile
        speaker.go.set()
        list(holder)
        if threads > 1:
            assert waiting.result(timeout=10).audio == b"x"  # checked on arrival, then waited for the slot
        else:
            # The old arrangement: queued for a thread, checked only once one freed, after its expiry.
            with pytest.raises(grpc.RpcError) as refused:
                waiting.result(timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()
        server.stop(0)
