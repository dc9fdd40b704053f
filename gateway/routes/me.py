"""The calling tenant: who it is, its limits and usage; token exchange; the JWKS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import Caller, TenantCaller
from gateway.routes.schemas import LimitsOut, MeOut, TenantOut, TokenOut, UsageOut, when
from timbre.v1 import tenancy_pb2

router = APIRouter(tags=["tenant"])


@router.get("/v1/me", response_model=MeOut, summary="The calling tenant, its tier limits and this period's usage")
def me(request: Request, caller: Caller = TenantCaller) -> MeOut:
    tenancy = request.app.state.backends.tenancy
    # Both calls in flight at once.
    tenant_call = tenancy.GetTenant.future(tenancy_pb2.GetTenantRequest(), metadata=caller.metadata)
    usage = tenancy.GetUsage(tenancy_pb2.GetUsageRequest(), metadata=caller.metadata)
    tenant = tenant_call.result()
    return MeOut(
        tenant=TenantOut.of(tenant.tenant),
        limits=LimitsOut.of(tenant.limits),
        usage=UsageOut(
            period=usage.period,
            characters_used=usage.characters_used,
            characters_reserved=usage.characters_reserved,
            voice_profiles_used=usage.voice_profiles_used,
            jobs_running=usage.jobs_running,
            resets_at=when(usage.period_reset_time),
        ),
        api_key_id=caller.key_id,
    )


@router.post(
    "/v1/tokens", response_model=TokenOut, summary="Exchange the API key for a short-lived JWT (for direct gRPC calls)"
)
def issue_token(request: Request, caller: Caller = TenantCaller) -> TokenOut:
    expires = jwt.decode(caller.token, options={"verify_signature": False}).get("exp")
    return TokenOut(
        access_token=caller.token,
        tenant_id=caller.tenant_id,
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
    )


@router.get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify Timbre access tokens")
def jwks(request: Request) -> JSONResponse:
    reply = request.app.state.backends.tenancy.GetJwks(tenancy_pb2.GetJwksRequest())
    return JSONResponse(json.loads(reply.jwks_json), headers={"Cache-Control": "public, max-age=300"})
