"""Domain errors become gRPC statuses with ErrorInfo, and the gateway turns those into problems."""

from datetime import UTC, datetime, timedelta

import grpc
from grpc_status import rpc_status
from starlette.requests import Request

from gateway.problems import from_rpc_error
from kit.errors import NotFound, QuotaExceeded
from kit.grpc.status import error_info, to_rpc_status


class FakeRpcError(grpc.RpcError):
    def __init__(self, status: grpc.Status) -> None:
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "query_string": b""})


def test_quota_error_maps_to_429_with_reason_and_retry_after():
    reset = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    error = FakeRpcError(to_rpc_status(QuotaExceeded("over", limit=10, reset_time=reset)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_info(error).reason == "QUOTA_EXCEEDED"
    response = from_rpc_error(_request(), error)
    assert response.status_code == 429
    assert 7000 < int(response.headers["retry-after"]) <= 7200
    assert response.media_type == "application/problem+json"


def test_not_found_maps_to_404_problem():
    response = from_rpc_error(_request(), FakeRpcError(to_rpc_status(NotFound("voice not found"))))
    assert response.status_code == 404
    assert b'"reason":"NOT_FOUND"' in response.body


def test_status_round_trips_through_grpc_status_helpers():
    status = to_rpc_status(NotFound("x", reason="VOICE_NOT_FOUND"))
    proto = rpc_status.from_call(FakeRpcError(status))
    assert proto.code == grpc.StatusCode.NOT_FOUND.value[0] and proto.message == "x"


class _BareUnavailable(grpc.RpcError):
    """What a client sees when the server it was talking to died: a status without ErrorInfo."""

    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "Stream removed"

    def trailing_metadata(self):
        return ()


def test_an_upstream_gone_away_is_503_with_retry_after():
    response = from_rpc_error(_request(), _BareUnavailable())
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1


def test_a_lost_database_connection_is_unavailable_not_internal():
    import sqlalchemy.exc

    from kit.grpc.interceptors import _code_of

    lost = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    assert _code_of(lost) == grpc.StatusCode.UNAVAILABLE
    assert _code_of(ValueError("a bug")) == grpc.StatusCode.INTERNAL
