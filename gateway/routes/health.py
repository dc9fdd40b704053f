"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process serves HTTP")
def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the services behind the gateway answer their health checks")
def ready(request: Request) -> JSONResponse:
    checks = {}
    for name, address in request.app.state.upstreams.items():
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            checks[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as error:
            checks[name] = error.code().name
    ok = all(v == "SERVING" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
