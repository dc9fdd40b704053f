"""RFC 9457 problem+json responses, and the mapping from gRPC status (+ ErrorInfo) to HTTP."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from kit.grpc.status import error_info
from kit.logging import current, get_logger

log = get_logger("gateway")

PROBLEM_TYPE = "https://timbre.dev/problems/"
MEDIA_TYPE = "application/problem+json"

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# Reasons whose HTTP status is more precise than their gRPC code's: a suspended tenant (tenancy answers
# FAILED_PRECONDITION) must pay, which is 402, not a 409 conflict.
REASON_STATUS = {"TENANT_SUSPENDED": 402}


def problem(
    status: int,
    title: str,
    detail: str = "",
    reason: str = "",
    instance: str = "",
    headers: dict[str, str] | None = None,
    **extra,
) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + (reason.lower().replace("_", "-") if reason else "about-blank"),
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason or None,
        "instance": instance or None,
        "request_id": current("request_id"),
        **extra,
    }
    return JSONResponse(
        {k: v for k, v in body.items() if v is not None}, status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


UNAVAILABLE_RETRY_AFTER = "2"


def _retry_after(metadata: dict[str, str]) -> str | None:
    if "retry_after_seconds" in metadata:
        return metadata["retry_after_seconds"]
    if "reset_time" in metadata:
        reset = datetime.fromisoformat(metadata["reset_time"])
        return str(max(1, math.ceil((reset - datetime.now(UTC)).total_seconds())))
    return None


def from_rpc_error(request: HTTPConnection, error: grpc.RpcError) -> JSONResponse:
    code = error.code()
    info = error_info(error)
    metadata = dict(info.metadata) if info else {}
    reason = info.reason if info else code.name
    status = REASON_STATUS.get(reason) or HTTP_STATUS.get(code, 500)
    headers = {}
    if status in (429, 503):  # a busy service's hint (speech slots) as much as a quota's
        retry = _retry_after(metadata)
        if retry:
            headers["Retry-After"] = retry
        elif status == 503:
            # An upstream that went away (a replica killed, a database restarting) gives no hint; the
            # client still learns that a retry is the right move, and when (the fault suite's recovery
            # times are seconds).
            headers["Retry-After"] = UNAVAILABLE_RETRY_AFTER
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="timbre"'
    detail = error.details() or ""
    if status >= 500:
        log.warning("upstream_error", code=code.name, detail=detail)
        if status == 500:
            detail = "internal error"
    return problem(
        status,
        _title(status) if reason in REASON_STATUS else code.name.replace("_", " ").capitalize(),
        detail,
        reason,
        request.url.path,
        headers=headers,
        **({"metadata": metadata} if metadata else {}),
    )


# Starlette types every handler as taking any Exception; each narrows to the class it is registered for.


async def rpc_error_handler(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, grpc.RpcError):
        return await unhandled_error_handler(request, error)
    return from_rpc_error(request, error)


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        return await unhandled_error_handler(request, error)
    errors = [
        {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(
            400, "Bad request", "the body is not valid JSON", "INVALID_ARGUMENT", request.url.path, errors=errors
        )
    return problem(
        422,
        "Unprocessable request",
        "the request does not match the schema",
        "INVALID_ARGUMENT",
        request.url.path,
        errors=errors,
    )


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):
        return await unhandled_error_handler(request, error)
    reason = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        413: "AUDIO_TOO_LARGE",
        429: "RATE_LIMITED",
    }.get(error.status_code, "")
    return problem(
        error.status_code,
        _title(error.status_code),
        str(error.detail or ""),
        reason,
        request.url.path,
        headers=getattr(error, "headers", None),
    )


async def unencodable_text_handler(request: Request, error: Exception) -> JSONResponse:
    """JSON may carry a lone UTF-16 surrogate (\\ud800), which Python decodes into a str that no
    protobuf string (UTF-8) can hold. Pydantic refuses it in most fields, not in all (the items of a
    list[str] pass): what gets through fails as the request to a service is built. It is the client's
    text, not a server fault; the gateway's own strings are all encodable."""
    if not isinstance(error, UnicodeEncodeError):
        return await unhandled_error_handler(request, error)
    return problem(
        400,
        "Bad request",
        "a text value is not valid Unicode (a lone surrogate, \\ud800-\\udfff)",
        "INVALID_ARGUMENT",
        request.url.path,
    )


async def unhandled_error_handler(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled_error")
    return problem(500, "Internal error", "internal error", "INTERNAL", request.url.path)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
