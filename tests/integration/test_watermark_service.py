"""The watermark service: tenant embeds get fresh ids and provenance, detection over gRPC and REST,
provenance hidden from other tenants, and the registry fed by GenerationCompleted events from Kafka."""

from __future__ import annotations

import time

import grpc
import pytest
from confluent_kafka import Producer

from bench.audio_edits import tempo
from cli import samples
from kit.audio.codec import decode, encode
from kit.events.envelope import headers_for, pack
from kit.events.kafka import client_config
from kit.events.topics import GENERATION_LIFECYCLE, full_name
from kit.grpc.client import open_channel
from tests.integration.conftest import bearer
from tests.integration.test_gateway import assert_problem, auth
from timbre.v1 import events_pb2, tenancy_pb2, watermark_pb2, watermark_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stub(watermark):
    channel = open_channel(watermark[0])
    yield watermark_pb2_grpc.WatermarkServiceStub(channel)
    channel.close()


@pytest.fixture(scope="module")
def speech() -> bytes:
    return samples.wav_bytes(samples.espeak(samples.PASSAGES[2], "en-us+m2"))


def test_embed_detect_and_provenance_visibility(stub, speech, issue, new_tenant, operator_token):
    _, a_key, _ = new_tenant("pro")
    _, b_key, _ = new_tenant("pro")
    a_token = issue(tenancy_pb2.IssueTokenRequest(api_key=a_key))
    b_token = issue(tenancy_pb2.IssueTokenRequest(api_key=b_key))
    marked = stub.Embed(watermark_pb2.EmbedRequest(audio=speech), metadata=bearer(a_token))
    assert 0 < marked.generation_id < 2**32
    second = stub.Embed(watermark_pb2.EmbedRequest(audio=speech), metadata=bearer(a_token))
    assert second.generation_id != marked.generation_id

    found = stub.Detect(watermark_pb2.DetectRequest(audio=marked.audio), metadata=bearer(b_token))
    assert found.watermarked and found.has_generation_id and found.generation_id == marked.generation_id
    clean = stub.Detect(watermark_pb2.DetectRequest(audio=speech), metadata=bearer(b_token))
    assert not clean.watermarked and not clean.has_generation_id

    own = stub.GetProvenance(
        watermark_pb2.GetProvenanceRequest(generation_id=marked.generation_id), metadata=bearer(a_token)
    )
    assert own.full_record and own.provenance.tenant_id and own.provenance.api_version == "v1"
    other = stub.GetProvenance(
        watermark_pb2.GetProvenanceRequest(generation_id=marked.generation_id), metadata=bearer(b_token)
    )
    assert not other.full_record and other.provenance.tenant_id == "" and other.provenance.create_time.seconds > 0
    operator = stub.GetProvenance(
        watermark_pb2.GetProvenanceRequest(generation_id=marked.generation_id), metadata=bearer(operator_token)
    )
    assert operator.full_record and operator.provenance.tenant_id == own.provenance.tenant_id

    for call, code in (
        (
            lambda: stub.Embed(watermark_pb2.EmbedRequest(audio=speech, generation_id=5), metadata=bearer(a_token)),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        (
            lambda: stub.Embed(watermark_pb2.EmbedRequest(audio=b"junk" * 100), metadata=bearer(a_token)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: stub.GetProvenance(
                watermark_pb2.GetProvenanceRequest(generation_id=2**32 - 2), metadata=bearer(a_token)
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (lambda: stub.Detect(watermark_pb2.DetectRequest(audio=speech)), grpc.StatusCode.UNAUTHENTICATED),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == code


def test_registry_follows_generation_events(stub, infra, operator_token, new_tenant, issue):
    tenant_id, key, _ = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=key))
    generation_id = 4_000_000_000 + int(time.time()) % 1_000_000
    event = pack(
        events_pb2.GenerationCompleted(
            job_id="job-1",
            tenant_id=tenant_id,
            voice_id="voice-1",
            generation_id=generation_id,
            user_id="key-1",
            api_version="v1",
            model="embedded-default",
        ),
        tenant_id=tenant_id,
    )
    producer = Producer(client_config(infra.kafka_bootstrap))
    headers: list[tuple[str, str | bytes | None]] = list(headers_for(event))
    for _ in range(2):  # delivered twice: recorded once
        producer.produce(
            full_name(infra.topic_prefix, GENERATION_LIFECYCLE.name),
            key=b"job-1",
            value=event.SerializeToString(),
            headers=headers,
        )
    producer.flush(10)
    deadline = time.monotonic() + 60
    while True:
        try:
            reply = stub.GetProvenance(
                watermark_pb2.GetProvenanceRequest(generation_id=generation_id), metadata=bearer(token)
            )
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() < deadline
            time.sleep(0.3)
    assert reply.full_record and (reply.provenance.voice_id, reply.provenance.model) == ("voice-1", "embedded-default")


def test_rest_detect_and_provenance(watermark, gateway_factory, stub, speech, new_tenant, issue):
    client = gateway_factory(watermark_addr=watermark[0])
    _, key, _ = new_tenant("pro")
    _, other, _ = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=key))
    marked = stub.Embed(watermark_pb2.EmbedRequest(audio=speech), metadata=bearer(token))
    detected = client.post(
        "/v1/watermark/detect", headers=auth(other), files={"file": ("clip.wav", marked.audio, "audio/wav")}
    )
    assert detected.status_code == 200
    assert detected.json()["watermarked"] and detected.json()["generation_id"] == marked.generation_id
    assert (detected.json()["tempo"], detected.json()["pitch_semitones"]) == (1.0, 0.0)
    # Played 1.25× faster at the same pitch (a player's speed-up): still found, and the edit named.
    clip = decode(marked.audio, target_rate=None)
    faster = encode(tempo(clip.samples, clip.sample_rate, 1.25), clip.sample_rate, "wav")
    edited = client.post("/v1/watermark/detect", headers=auth(other), files={"file": ("fast.wav", faster, "audio/wav")})
    assert edited.status_code == 200 and edited.json()["generation_id"] == marked.generation_id
    assert abs(edited.json()["tempo"] - 1.25) < 0.03 and edited.json()["pitch_semitones"] == 0.0
    mine = client.get(f"/v1/generations/{marked.generation_id}/provenance", headers=auth(key)).json()
    theirs = client.get(f"/v1/generations/{marked.generation_id}/provenance", headers=auth(other)).json()
    assert mine["full_record"] and mine["tenant_id"]
    assert not theirs["full_record"] and "tenant_id" not in {k for k, v in theirs.items() if v}
    assert_problem(client.get("/v1/generations/0/provenance", headers=auth(key)), 422)
    assert_problem(
        client.post("/v1/watermark/detect", headers=auth(key), files={"file": ("x.wav", b"nope" * 10, "audio/wav")}),
        400,
        "AUDIO_UNDECODABLE",
    )
