"""DetectStream's reassembly: the file in order, refused as soon as a chunk or the whole is over its cap."""

import pytest

from kit.errors import InvalidArgument
from services.watermark.grpc_api.servicer import MAX_CHUNK_BYTES, collect_chunks
from timbre.v1 import watermark_pb2


def _requests(*chunks: bytes):
    return [watermark_pb2.DetectStreamRequest(chunk=c) for c in chunks]


def test_chunks_are_joined_in_order():
    assert collect_chunks(_requests(b"RIFF", b"", b"data"), cap=100) == b"RIFFdata"


def test_a_stream_over_the_cap_is_refused_without_reading_the_rest():
    def endless():
        while True:
            yield watermark_pb2.DetectStreamRequest(chunk=bytes(40))

    with pytest.raises(InvalidArgument) as refused:
        collect_chunks(endless(), cap=100)
    assert refused.value.reason == "AUDIO_TOO_LARGE"


def test_a_chunk_over_the_chunk_limit_is_refused():
    with pytest.raises(InvalidArgument, match="at most"):
        collect_chunks(_requests(bytes(MAX_CHUNK_BYTES + 1)), cap=10 * MAX_CHUNK_BYTES)
