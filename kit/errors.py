"""Domain errors, free of any transport: the gRPC edge and the gateway map them to status codes.

Each error carries a machine-readable ``reason`` (an ``ErrorReason`` name from common.proto) and
optional string metadata (e.g. the limit that was hit and when it resets).
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class TimbreError(Exception):
    kind = ErrorKind.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, **metadata: object) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = {k: str(v) for k, v in metadata.items()}


class InvalidArgument(TimbreError):
    kind = ErrorKind.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(TimbreError):
    """Also what another tenant's ids get: existence is never revealed across tenants."""

    kind = ErrorKind.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(TimbreError):
    kind = ErrorKind.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class Unauthenticated(TimbreError):
    kind = ErrorKind.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(TimbreError):
    kind = ErrorKind.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class QuotaExceeded(TimbreError):
    kind = ErrorKind.RESOURCE_EXHAUSTED
    default_reason = "QUOTA_EXCEEDED"


class FailedPrecondition(TimbreError):
    kind = ErrorKind.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Unavailable(TimbreError):
    kind = ErrorKind.UNAVAILABLE
    default_reason = "UNAVAILABLE"
