"""Where each kind of object lives in the bucket; every service names keys through these."""

from __future__ import annotations


def sample_prefix(tenant_id: str, voice_id: str) -> str:
    return f"samples/{tenant_id}/{voice_id}/"


def artifact_prefix(tenant_id: str, voice_id: str) -> str:
    """A voice's clone artifacts (synthesis writes them; deletion and revocation remove them)."""
    return f"models/{tenant_id}/{voice_id}/"


def artifact_key(tenant_id: str, voice_id: str) -> str:
    return f"{artifact_prefix(tenant_id, voice_id)}speaker.pth"


def job_text_key(tenant_id: str, job_id: str) -> str:
    return f"jobs/{tenant_id}/{job_id}/text.txt"


def job_audio_key(tenant_id: str, job_id: str, fmt: str) -> str:
    return f"jobs/{tenant_id}/{job_id}/audio.{fmt}"
