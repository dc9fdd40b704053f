"""Multipart uploads → gRPC client streams, a chunk at a time, with a per-file size cap.

Starlette has already parsed the multipart body (each file spooled: in memory up to 1 MiB, then in a
temporary file) under the whole-request cap of gateway/body_limit.py. Routes that take uploads are plain
`def`s like every other route: they run in FastAPI's threadpool, and the files are read from their spool
into the gRPC request stream chunk by chunk, so the gateway never holds an upload whole in memory.
Each file's size is checked before anything is sent, and again while it is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc
from fastapi import HTTPException, UploadFile

from timbre.v1 import embedding_pb2

CHUNK = 1024 * 1024  # the largest chunk the services accept


def too_large(name: str, size: int, cap: int) -> HTTPException:
    return HTTPException(413, f"{name} is {size} bytes or more; at most {cap} bytes per file")


def size_of(upload: UploadFile) -> int:
    """The spooled file's size, measured (UploadFile.size is only what the parser counted)."""
    position = upload.file.tell()
    size = upload.file.seek(0, os.SEEK_END)
    upload.file.seek(position)
    return size


class UploadStream:
    """Named uploads, size-checked now, streamed later as AudioChunks (file_index = position).

    `chunks()` runs on gRPC's request thread: a file found over the cap while it is read stops the
    stream, and `sending()` turns the call that fails because of it into the 413 it is."""

    def __init__(self, files: Sequence[tuple[str, UploadFile]], cap: int) -> None:
        for name, upload in files:
            size = size_of(upload)
            if size > cap:
                raise too_large(name, size, cap)
        self.files = files
        self.cap = cap
        self.refused: HTTPException | None = None

    def blocks(self) -> Iterator[tuple[int, str, bytes]]:
        """(file index, name, ≤ CHUNK bytes) for each piece of each file, in order."""
        for index, (name, upload) in enumerate(self.files):
            upload.file.seek(0)
            sent = 0
            while block := upload.file.read(CHUNK):
                sent += len(block)
                if sent > self.cap:
                    self.refused = too_large(name, sent, self.cap)
                    raise self.refused
                yield index, name, block
            if not sent:  # an empty file still arrives, to be refused by the service with its reason
                yield index, name, b""

    def chunks(self) -> Iterator[embedding_pb2.AudioChunk]:
        for index, name, block in self.blocks():
            yield embedding_pb2.AudioChunk(file_index=index, filename=name, data=block)

    @contextmanager
    def sending(self) -> Iterator[None]:
        try:
            yield
        except grpc.RpcError as error:
            if self.refused is not None:  # gRPC cancelled the call because the stream stopped
                raise self.refused from error
            raise
