"""Where a long-form job keeps its text and its audio in object storage (synthesis alone reads them)."""

from __future__ import annotations


def job_text_key(tenant_id: str, job_id: str) -> str:
    return f"jobs/{tenant_id}/{job_id}/text.txt"


def job_audio_key(tenant_id: str, job_id: str, fmt: str) -> str:
    return f"jobs/{tenant_id}/{job_id}/audio.{fmt}"
