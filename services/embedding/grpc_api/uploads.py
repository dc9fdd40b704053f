"""Reassembling client-streamed uploads: metadata first, then ≤ 1 MiB chunks per file."""

from __future__ import annotations

from collections.abc import Iterable

from kit.errors import InvalidArgument
from services.embedding.service_layer.voices import Upload

MAX_CHUNK = 1024 * 1024


def collect(requests: Iterable, max_total_bytes: int, max_files: int = 20, max_file_bytes: int | None = None):
    """(metadata message, [Upload]) from a stream of {metadata | chunk} messages.

    The caps are checked per chunk, as it arrives: a stream over them is refused before more of it is
    held in memory (a file over max_file_bytes, the whole over max_total_bytes)."""
    metadata = None
    files: dict[int, tuple[str, bytearray]] = {}
    total = 0
    for request in requests:
        part = request.WhichOneof("part")
        if metadata is None:
            if part != "metadata" and part != "voice_id":
                raise InvalidArgument("the first message must carry the metadata")
            metadata = getattr(request, part)
            continue
        if part != "chunk":
            raise InvalidArgument("metadata may be sent only once, first")
        chunk = request.chunk
        if len(chunk.data) > MAX_CHUNK:
            raise InvalidArgument(f"chunks must be at most {MAX_CHUNK} bytes")
        if chunk.file_index < 0 or chunk.file_index >= max_files:
            raise InvalidArgument(f"file_index must be 0..{max_files - 1}", reason="AUDIO_TOO_LARGE")
        total += len(chunk.data)
        if total > max_total_bytes:
            raise InvalidArgument(f"upload exceeds {max_total_bytes} bytes", reason="AUDIO_TOO_LARGE")
        name, data = files.setdefault(chunk.file_index, (chunk.filename or f"file{chunk.file_index}", bytearray()))
        if max_file_bytes is not None and len(data) + len(chunk.data) > max_file_bytes:
            raise InvalidArgument(f"{name} exceeds {max_file_bytes} bytes", reason="AUDIO_TOO_LARGE")
        data.extend(chunk.data)
    if metadata is None:
        raise InvalidArgument("empty request stream")
    return metadata, [Upload(files[i][0], bytes(files[i][1])) for i in sorted(files)]
