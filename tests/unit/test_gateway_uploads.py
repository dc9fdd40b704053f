"""Uploads stream from the multipart spool into the gRPC client streams chunk by chunk; the per-file cap
and the whole-request cap answer 413 problem+json and send nothing on."""

from __future__ import annotations

import io

import grpc
import pytest
from fastapi import HTTPException, UploadFile
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.uploads import CHUNK, UploadStream
from tests.fakes.gateway import FakeEmbedding, FakeTenancy, FakeWatermark, fake_backends

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROBLEM = "application/problem+json"


def _gateway(
    cap: int, watermark: FakeWatermark | None = None, embedding: FakeEmbedding | None = None, **settings
) -> TestClient:
    backends = fake_backends(
        tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), watermark=watermark, embedding=embedding
    )
    return TestClient(create_app(GatewaySettings(max_upload_bytes=cap, **settings), backends=backends))


def _assert_413(answer) -> dict:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["reason"] == "AUDIO_TOO_LARGE" and body["status"] == 413 and body["detail"]
    return body


def test_upload_reaches_the_service_whole():
    watermark = FakeWatermark()
    data = bytes(range(256)) * 5000  # over one read chunk (1 MiB)
    answer = _gateway(2_000_000, watermark).post("/v1/watermark/detect", files={"file": ("a.wav", data)}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "watermarked": False,
        "confidence": 0.01,
        "generation_id": None,
        "tempo": None,
        "pitch_semitones": None,
    }
    assert watermark.detected == [data]
    assert watermark.chunk_sizes == [1024 * 1024, len(data) - 1024 * 1024]  # streamed, never one message


def test_upload_over_the_cap_is_413_and_never_sent():
    watermark = FakeWatermark()
    answer = _gateway(100, watermark).post("/v1/watermark/detect", files={"file": ("a.wav", bytes(101))}, headers=AUTH)
    _assert_413(answer)
    assert watermark.detected == []


def test_enrollment_files_are_streamed_in_chunks_each_to_its_index():
    embedding = FakeEmbedding()
    first, second = bytes(range(256)) * 9000, b"second file"  # the first spans three chunks
    answer = _gateway(4_000_000, embedding=embedding).post(
        "/v1/voices",
        data={"name": "Ann"},
        files=[("files", ("one.wav", first)), ("files", ("two.mp3", second)), ("files", ("empty.ogg", b""))],
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text
    [requests] = embedding.received
    assert requests[0].WhichOneof("part") == "metadata" and requests[0].metadata.name == "Ann"
    chunks = [r.chunk for r in requests[1:]]
    assert all(len(c.data) <= CHUNK for c in chunks)
    assert [c.file_index for c in chunks] == [0, 0, 0, 1, 2]
    files = {}
    for c in chunks:
        files.setdefault((c.file_index, c.filename), bytearray()).extend(c.data)
    assert files == {(0, "one.wav"): first, (1, "two.mp3"): second, (2, "empty.ogg"): b""}


@pytest.mark.parametrize(
    ("route", "form"),
    [
        ("/v1/voices", {"name": "Ann"}),
        ("/v1/voices/v-1/verify", {}),
    ],
)
def test_a_file_over_the_cap_is_413_before_anything_is_streamed(route, form):
    embedding = FakeEmbedding()
    field = "files" if route == "/v1/voices" else "file"
    answer = _gateway(1000, embedding=embedding).post(
        route, data=form, files=[(field, ("big.wav", bytes(1001)))], headers=AUTH
    )
    assert "big.wav" in _assert_413(answer)["detail"]
    assert embedding.received == []


class _CancelledByStream(grpc.RpcError):
    """What the gRPC client raises when its request iterator fails: the call is cancelled."""


def test_a_file_that_grows_past_the_cap_while_streamed_is_413():
    spool = io.BytesIO(b"x" * 10)
    upload = UploadStream([("a.wav", UploadFile(spool, filename="a.wav"))], cap=100)
    spool.seek(0, io.SEEK_END)
    spool.write(b"y" * 200)  # after the up-front check: only the count while reading can catch it

    def call():
        try:
            list(upload.chunks())
        except HTTPException:
            raise _CancelledByStream() from None

    with pytest.raises(HTTPException) as refused, upload.sending():
        call()
    assert refused.value.status_code == 413 and "a.wav" in str(refused.value.detail)


def test_an_upstream_error_is_not_mistaken_for_a_refused_upload():
    upload = UploadStream([("a.wav", UploadFile(io.BytesIO(b"ok"), filename="a.wav"))], cap=100)
    with pytest.raises(_CancelledByStream), upload.sending():
        list(upload.chunks())
        raise _CancelledByStream()


def test_a_body_declared_over_the_request_cap_is_413_unread():
    embedding = FakeEmbedding()
    client = _gateway(10_000_000, embedding=embedding, max_request_bytes=5000)
    answer = client.post("/v1/voices", data={"name": "Ann"}, files=[("files", ("a.wav", bytes(6000)))], headers=AUTH)
    body = _assert_413(answer)
    assert "5000" in body["detail"] and body["request_id"]
    assert embedding.received == []


def test_a_chunked_body_is_cut_off_at_the_request_cap():
    embedding = FakeEmbedding()
    client = _gateway(10_000_000, embedding=embedding, max_request_bytes=5000)
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n\r\n'.encode()

    def body():  # no Content-Length: httpx sends it chunked
        yield head
        for _ in range(100):
            yield bytes(1000)

    answer = client.post(
        "/v1/voices",
        content=body(),
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _assert_413(answer)
    assert embedding.received == []
