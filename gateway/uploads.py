"""Multipart uploads → gRPC client streams, with a size cap enforced while reading.

Routes that take uploads are plain `def`s like every other route: FastAPI has already parsed (and
spooled) the multipart body on the event loop, and runs the route, this read and its blocking gRPC
call in its threadpool, so a slow upstream never stalls the other requests of the process."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import HTTPException, UploadFile

from timbre.v1 import embedding_pb2

CHUNK = 1024 * 1024


def read_capped(upload: UploadFile, cap: int) -> bytes:
    data = bytearray()
    while block := upload.file.read(CHUNK):
        data.extend(block)
        if len(data) > cap:
            raise HTTPException(413, f"{upload.filename or 'upload'} exceeds {cap} bytes")
    return bytes(data)


def chunks(files: list[tuple[str, bytes]]) -> Iterator[embedding_pb2.AudioChunk]:
    for index, (name, data) in enumerate(files):
        if not data:
            yield embedding_pb2.AudioChunk(file_index=index, filename=name, data=b"")
        for start in range(0, len(data), CHUNK):
            yield embedding_pb2.AudioChunk(file_index=index, filename=name, data=data[start : start + CHUNK])
