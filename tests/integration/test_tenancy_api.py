"""TenancyService over gRPC: tokens and JWKS, API keys, tenant isolation, errors with reasons."""

from __future__ import annotations

import json

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kit.grpc.auth import JwksVerifier
from kit.grpc.status import error_info
from tests.integration.conftest import bearer
from timbre.v1 import common_pb2, tenancy_pb2

pytestmark = pytest.mark.integration


def _reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason the server attached (a missing one fails the test here)."""
    info = error_info(error)
    assert info is not None, "the error carries no ErrorInfo"
    return info.reason


def _error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_api_key_token_verifies_against_the_published_jwks(tenancy_stub, issue, new_tenant):
    tenant_id, api_key, key_id = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    jwks = tenancy_stub.GetJwks(tenancy_pb2.GetJwksRequest()).jwks_json
    principal = JwksVerifier(lambda: jwks).verify(token)
    assert (principal.tenant_id, principal.key_id, principal.role) == (tenant_id, key_id, "tenant")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert 0 < claims["exp"] - claims["iat"] <= 900
    assert json.loads(jwks)["keys"][0]["crv"] == "Ed25519"
    # A token whose signature was tampered with is refused.
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    err = _error(lambda: tenancy_stub.GetTenant(tenancy_pb2.GetTenantRequest(), metadata=bearer(tampered)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_wrong_secrets_and_missing_tokens_are_unauthenticated(tenancy_stub):
    for request in (
        tenancy_pb2.IssueTokenRequest(api_key="tmb_0000000000_" + "x" * 43),
        tenancy_pb2.IssueTokenRequest(api_key="not a key"),
        tenancy_pb2.IssueTokenRequest(operator_secret="guess"),
        tenancy_pb2.IssueTokenRequest(service=tenancy_pb2.ServiceGrant(service_name="x", secret="guess")),
    ):
        assert (
            _error(lambda request=request: tenancy_stub.IssueToken(request)).code() == grpc.StatusCode.UNAUTHENTICATED
        )
    assert (
        _error(lambda: tenancy_stub.IssueToken(tenancy_pb2.IssueTokenRequest())).code()
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    err = _error(lambda: tenancy_stub.GetTenant(tenancy_pb2.GetTenantRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and _reason(err) == "UNAUTHENTICATED"


def test_revoked_key_cannot_get_a_token(tenancy_stub, issue, new_tenant):
    _, api_key, key_id = new_tenant("free")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    tenancy_stub.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=key_id), metadata=bearer(token))
    err = _error(lambda: tenancy_stub.IssueToken(tenancy_pb2.IssueTokenRequest(api_key=api_key)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err) == "API_KEY_REVOKED"


def test_tenants_see_only_their_own_resources(tenancy_stub, issue, new_tenant):
    a_id, a_key, _ = new_tenant("free")
    b_id, b_key, b_key_id = new_tenant("free")
    a_token = issue(tenancy_pb2.IssueTokenRequest(api_key=a_key))
    for call in (
        lambda: tenancy_stub.GetTenant(tenancy_pb2.GetTenantRequest(tenant_id=b_id), metadata=bearer(a_token)),
        lambda: tenancy_stub.GetUsage(tenancy_pb2.GetUsageRequest(tenant_id=b_id), metadata=bearer(a_token)),
        lambda: tenancy_stub.RevokeApiKey(tenancy_pb2.RevokeApiKeyRequest(key_id=b_key_id), metadata=bearer(a_token)),
        lambda: tenancy_stub.RevokeApiKey(
            tenancy_pb2.RevokeApiKeyRequest(key_id="no-such-key"), metadata=bearer(a_token)
        ),
    ):
        assert _error(call).code() == grpc.StatusCode.NOT_FOUND
    # B's key still works: A's attempt changed nothing.
    assert issue(tenancy_pb2.IssueTokenRequest(api_key=b_key))
    keys = tenancy_stub.ListApiKeys(tenancy_pb2.ListApiKeysRequest(), metadata=bearer(a_token)).api_keys
    assert b_key_id not in {k.key_id for k in keys}


def test_operator_only_calls_and_validation(tenancy_stub, issue, operator_token, new_tenant):
    _, api_key, _ = new_tenant("free")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    err = _error(
        lambda: tenancy_stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(name="x", tier=common_pb2.TIER_PRO), metadata=bearer(token)
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    for request in (
        tenancy_pb2.CreateTenantRequest(name="", tier=common_pb2.TIER_PRO),
        tenancy_pb2.CreateTenantRequest(name="x" * 201, tier=common_pb2.TIER_PRO),
        tenancy_pb2.CreateTenantRequest(name="ok"),
    ):
        err = _error(lambda request=request: tenancy_stub.CreateTenant(request, metadata=bearer(operator_token)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_key_pagination(tenancy_stub, issue, new_tenant):
    _, api_key, _ = new_tenant("pro")
    token = issue(tenancy_pb2.IssueTokenRequest(api_key=api_key))
    for i in range(4):
        tenancy_stub.CreateApiKey(tenancy_pb2.CreateApiKeyRequest(name=f"k{i}"), metadata=bearer(token))
    seen, page_token = [], ""
    while True:
        reply = tenancy_stub.ListApiKeys(
            tenancy_pb2.ListApiKeysRequest(page=common_pb2.PageRequest(page_size=2, page_token=page_token)),
            metadata=bearer(token),
        )
        seen += [k.name for k in reply.api_keys]
        page_token = reply.page.next_page_token
        if not page_token:
            break
    assert seen == ["default", "k0", "k1", "k2", "k3"]
    err = _error(
        lambda: tenancy_stub.ListApiKeys(
            tenancy_pb2.ListApiKeysRequest(page=common_pb2.PageRequest(page_token="garbage!")), metadata=bearer(token)
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_and_reflection_are_served(tenancy):
    with grpc.insecure_channel(tenancy) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="timbre.v1.TenancyService")
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert {"timbre.v1.TenancyService", "grpc.health.v1.Health"} <= names
