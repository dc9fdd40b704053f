"""GET /v1/jobs/{id}/audio: streamed from ReadJobAudio, whole or one HTTP byte range."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from kit.errors import FailedPrecondition
from tests.fakes.gateway import FakeSynthesis, FakeTenancy, fake_backends

KEY = "tmb_abc_secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
AUDIO = bytes(range(26)) + b"the end"  # 33 bytes, read back in 4-byte chunks
PATH = "/v1/jobs/j-1/audio"


@pytest.fixture
def synthesis() -> FakeSynthesis:
    return FakeSynthesis(
        audio={"j-1": AUDIO},
        failures={"j-running": FailedPrecondition("job is still running", reason="JOB_NOT_FINISHED")},
    )


@pytest.fixture
def gateway(synthesis) -> TestClient:
    backends = fake_backends(tenancy=FakeTenancy(api_keys={KEY: ("t-1", "k-1")}), synthesis=synthesis)
    return TestClient(create_app(GatewaySettings(), backends=backends), raise_server_exceptions=False)


def _get(gateway: TestClient, range_header: str | None = None, path: str = PATH):
    headers = {**AUTH, **({"Range": range_header} if range_header else {})}
    return gateway.get(path, headers=headers)


def test_whole_file_is_streamed_with_its_length(gateway, synthesis):
    answer = _get(gateway)
    assert answer.status_code == 200
    assert answer.content == AUDIO
    assert answer.headers["content-length"] == str(len(AUDIO))
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-type"] == "audio/wav"
    assert "content-range" not in answer.headers
    assert [(r.offset, r.length) for r in synthesis.reads] == [(0, 0)]  # one call, nothing capped
    assert all(s.cancelled for s in synthesis.streams)


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=2-5", 2, 5),
        ("bytes=0-0", 0, 0),
        ("bytes=30-", 30, 32),
        ("bytes=-4", 29, 32),
        ("bytes=-100", 0, 32),
        ("bytes=10-1000", 10, 32),
    ],
)
def test_one_range_is_answered_206(gateway, synthesis, range_header, start, end):
    answer = _get(gateway, range_header)
    assert answer.status_code == 206, answer.text
    assert answer.content == AUDIO[start : end + 1]
    assert answer.headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert answer.headers["content-length"] == str(end - start + 1)
    assert answer.headers["accept-ranges"] == "bytes"
    # The service is asked for exactly the resolved range (after a one-byte read for the size).
    assert (synthesis.reads[-1].offset, synthesis.reads[-1].length) == (start, end - start + 1)


@pytest.mark.parametrize("range_header", ["bytes=33-", "bytes=100-200", "bytes=-0"])
def test_a_range_outside_the_file_is_416(gateway, synthesis, range_header):
    answer = _get(gateway, range_header)
    assert answer.status_code == 416
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["reason"] == "RANGE_NOT_SATISFIABLE"
    assert answer.headers["content-range"] == f"bytes */{len(AUDIO)}"
    assert all(r.offset < len(AUDIO) for r in synthesis.reads)


def test_a_malformed_range_is_416(gateway):
    answer = _get(gateway, "bytes=5-3")
    assert answer.status_code == 416
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("range_header", ["bytes=0-1,4-5", "items=0-3"])
def test_unsupported_ranges_get_the_whole_file(gateway, range_header):
    answer = _get(gateway, range_header)
    assert answer.status_code == 200 and answer.content == AUDIO


def test_if_range_without_validators_gets_the_whole_file(gateway):
    answer = gateway.get(PATH, headers={**AUTH, "Range": "bytes=2-5", "If-Range": '"some-etag"'})
    assert answer.status_code == 200 and answer.content == AUDIO


@pytest.mark.parametrize("range_header", [None, "bytes=0-3"])
def test_errors_before_the_first_byte_are_problems(gateway, range_header):
    missing = _get(gateway, range_header, path="/v1/jobs/nope/audio")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["reason"] == "NOT_FOUND"
    running = _get(gateway, range_header, path="/v1/jobs/j-running/audio")
    assert running.status_code == 409
    assert running.json()["reason"] == "JOB_NOT_FINISHED"


def test_openapi_documents_full_partial_and_unsatisfiable_answers(gateway):
    operation = gateway.get("/openapi.json").json()["paths"]["/v1/jobs/{job_id}/audio"]["get"]
    assert {"200", "206", "416"} <= set(operation["responses"])
    assert "audio/mpeg" in operation["responses"]["206"]["content"]
    assert "application/problem+json" in operation["responses"]["416"]["content"]
    assert any(p["name"] == "Range" and p["in"] == "header" for p in operation["parameters"])
