"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

import grpc
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process serves HTTP")
def health() -> dict:
    return {"status": "ok"}


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="each service's health status (SERVING, NOT_SERVING, UNAVAILABLE, ...)")


@router.get(
    "/ready",
    summary="Readiness: the services behind the gateway answer their health checks",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A service does not answer SERVING"}},
)
def ready(request: Request) -> JSONResponse:
    upstreams: dict[str, str] = request.app.state.upstreams
    channels = {name: grpc.insecure_channel(address) for name, address in upstreams.items()}
    try:
        # All checks in flight at once: a dead upstream costs one timeout, not one each.
        pending = {
            name: health_pb2_grpc.HealthStub(channel).Check.future(health_pb2.HealthCheckRequest(), timeout=2)
            for name, channel in channels.items()
        }
        checks = {name: _status(future) for name, future in pending.items()}
    finally:
        for channel in channels.values():
            channel.close()
    ok = all(v == "SERVING" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


def _status(future) -> str:
    try:
        return health_pb2.HealthCheckResponse.ServingStatus.Name(future.result().status)
    except grpc.RpcError as error:
        return error.code().name


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
