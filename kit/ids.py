"""Identifier helpers."""

from __future__ import annotations

import uuid


def is_uuid(value: object) -> bool:
    """True for a canonical UUID string; callers answer NOT_FOUND for anything else."""
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except (ValueError, TypeError, AttributeError):
        return False
