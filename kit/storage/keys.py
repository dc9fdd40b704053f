"""Where the objects more than one service names live in the bucket (samples: embedding writes, synthesis
builds from them; artifacts: synthesis writes, embedding removes them with the voice)."""

from __future__ import annotations


def sample_prefix(tenant_id: str, voice_id: str) -> str:
    return f"samples/{tenant_id}/{voice_id}/"


def artifact_prefix(tenant_id: str, voice_id: str) -> str:
    """A voice's clone artifacts (synthesis writes them; deletion and revocation remove them)."""
    return f"models/{tenant_id}/{voice_id}/"


def artifact_key(tenant_id: str, voice_id: str) -> str:
    return f"{artifact_prefix(tenant_id, voice_id)}speaker.pth"
