"""The OpenAPI document the fuzzer trusts (gateway/openapi.py): credentials and problem+json errors are
declared on every operation. No servers: the document is built from the routes alone."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.problems import MEDIA_TYPE

pytestmark = pytest.mark.fuzz

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def spec() -> dict:
    return create_app(GatewaySettings()).openapi()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_response_is_a_problem_unless_it_documents_its_own_body(spec):
    own_bodies = {("GET /ready", "503")}  # the readiness checks, for load balancers and people
    wrong = []
    for label, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (label, status) in own_bodies:
                continue
            schema = response.get("content", {}).get(MEDIA_TYPE, {}).get("schema", {})
            if list(response["content"]) != [MEDIA_TYPE] or schema.get("$ref") != PROBLEM_REF:
                wrong.append((label, status, response.get("content")))
    assert not wrong
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's 422 shape is never sent


def test_every_route_behind_a_credential_says_which_and_documents_its_refusals(spec):
    schemes = spec["components"]["securitySchemes"]
    secured = {label: op["security"][0] for label, op in operations(spec) if "security" in op}
    assert {next(iter(s)) for s in secured.values()} == set(schemes) == {"apiKey", "operatorSecret", "ownerToken"}
    assert secured["GET /v1/me"] == {"apiKey": []}
    assert secured["POST /v1/tenants"] == {"operatorSecret": []}
    assert secured["GET /v1/owner/consent"] == secured["POST /v1/owner/consent/revoke"] == {"ownerToken": []}
    public = {label for label, _ in operations(spec)} - set(secured)
    assert public == {"POST /v1/stripe/webhook", "GET /.well-known/jwks.json", "GET /health", "GET /ready"}
    for label, operation in operations(spec):
        if label in secured:
            assert {"401", "429"} <= set(operation["responses"]), label
        if "apiKey" in secured.get(label, {}):
            assert "402" in operation["responses"], f"{label}: a suspended tenant's key answers 402"


def test_audio_routes_document_audio_only(spec):
    speech = spec["paths"]["/v1/voices/{voice_id}/speech"]["post"]["responses"]["200"]["content"]
    audio = spec["paths"]["/v1/jobs/{job_id}/audio"]["get"]["responses"]["200"]["content"]
    assert (
        set(speech)
        == set(audio)
        == {
            "audio/mpeg",
            "audio/wav",
            "audio/flac",
            "audio/ogg",
            "audio/pcm",
            "audio/basic",
        }
    )
