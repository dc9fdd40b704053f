"""A tenant's API keys."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from gateway.auth import Caller, TenantCaller
from gateway.routes.schemas import ApiKeyList, ApiKeyOut, CreateApiKeyIn, NewApiKeyOut
from timbre.v1 import common_pb2, tenancy_pb2

router = APIRouter(tags=["api keys"])


@router.post("/v1/api-keys", status_code=201, response_model=NewApiKeyOut, summary="Create an API key (shown once)")
def create_api_key(request: Request, body: CreateApiKeyIn | None = None, caller: Caller = TenantCaller) -> NewApiKeyOut:
    reply = request.app.state.backends.tenancy.CreateApiKey(
        tenancy_pb2.CreateApiKeyRequest(name=(body.name if body else "")), metadata=caller.metadata
    )
    return NewApiKeyOut(**ApiKeyOut.of(reply.api_key).model_dump(), api_key=reply.api_key_secret)


@router.get("/v1/api-keys", response_model=ApiKeyList, summary="List API keys (secrets are never shown again)")
def list_api_keys(
    request: Request, page_size: int = Query(20, ge=1, le=100), page_token: str = "", caller: Caller = TenantCaller
) -> ApiKeyList:
    reply = request.app.state.backends.tenancy.ListApiKeys(
        tenancy_pb2.ListApiKeysRequest(page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=caller.metadata,
    )
    return ApiKeyList(
        items=[ApiKeyOut.of(k) for k in reply.api_keys], next_page_token=reply.page.next_page_token or None
    )


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key (effective at once)")
def revoke_api_key(key_id: str, request: Request, caller: Caller = TenantCaller) -> ApiKeyOut:
    reply = request.app.state.backends.tenancy.RevokeApiKey(
        tenancy_pb2.RevokeApiKeyRequest(key_id=key_id), metadata=caller.metadata
    )
    return ApiKeyOut.of(reply.api_key)
