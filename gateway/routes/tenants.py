"""Operator routes: tenants."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.auth import Caller, OperatorCaller
from gateway.routes.schemas import (
    TIER_CODES,
    ApiKeyOut,
    ChangeTierIn,
    CreateTenantIn,
    CreateTenantOut,
    NewApiKeyOut,
    TenantOut,
)
from timbre.v1 import tenancy_pb2

router = APIRouter(tags=["operator"])


@router.post(
    "/v1/tenants",
    status_code=201,
    response_model=CreateTenantOut,
    summary="Create a tenant (operator) and its first API key",
)
def create_tenant(body: CreateTenantIn, request: Request, caller: Caller = OperatorCaller) -> CreateTenantOut:
    reply = request.app.state.backends.tenancy.CreateTenant(
        tenancy_pb2.CreateTenantRequest(name=body.name, tier=TIER_CODES[body.tier]), metadata=caller.metadata
    )
    return CreateTenantOut(
        tenant=TenantOut.of(reply.tenant),
        api_key=NewApiKeyOut(**ApiKeyOut.of(reply.api_key).model_dump(), api_key=reply.api_key_secret),
    )


@router.patch(
    "/v1/tenants/{tenant_id}",
    response_model=TenantOut,
    summary="Move a tenant to another tier (operator); billing updates its subscription",
)
def change_tier(tenant_id: str, body: ChangeTierIn, request: Request, caller: Caller = OperatorCaller) -> TenantOut:
    reply = request.app.state.backends.tenancy.ChangeTier(
        tenancy_pb2.ChangeTierRequest(tenant_id=tenant_id, tier=TIER_CODES[body.tier]), metadata=caller.metadata
    )
    return TenantOut.of(reply.tenant)
