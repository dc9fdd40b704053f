"""The worker class a generation's compute is priced at in billing's cost report: "cpu", or "gpu-" and
the slug of the CUDA device's name ("gpu-nvidia-a10g"). TIMBRE_WORKER_CLASS overrides it.

The class follows the device the engine computes on, not the host: the embedded engine runs on the
CPU even on a GPU host, and pricing its seconds at a GPU's hourly rate would overstate its cost."""

from __future__ import annotations

import re


def slug(name: str) -> str:
    """ "NVIDIA A10G" → "nvidia-a10g"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def detect_worker_class(device: str = "cpu") -> str:
    if not device.startswith("cuda"):
        return "cpu"
    import torch  # only here: a CUDA engine has loaded torch already, and the CLI never calls this

    if not torch.cuda.is_available():
        return "cpu"
    return "gpu-" + (slug(torch.cuda.get_device_name(torch.device(device))) or "unknown")


def worker_class_of(configured: str, device: str) -> str:
    """The configured class (TIMBRE_WORKER_CLASS) when set, else the engine device's."""
    return configured.strip() or detect_worker_class(device)
