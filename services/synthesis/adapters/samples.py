"""The VoiceSamples port over the embedding service's ReadVoiceSample: samples are sealed at rest with a
data key only embedding holds (synthesis never reads embedding's keys), so a build asks for them,
with this service's own token."""

from __future__ import annotations

from typing import cast

import grpc

from kit.clients.tenancy import TenancyConnection
from kit.config import KitSettings
from kit.grpc.client import open_channel
from kit.storage import ObjectNotFound
from timbre.v1 import embedding_pb2, embedding_pb2_grpc


class EmbeddingSamples:
    def __init__(self, settings: KitSettings, service_name: str, timeout_seconds: float = 120.0) -> None:
        self._settings = settings
        self._service_name = service_name
        self._timeout = timeout_seconds
        self._stub: embedding_pb2_grpc.EmbeddingServiceStub | None = None

    def _embedding(self) -> embedding_pb2_grpc.EmbeddingServiceStub:
        """Connected on first use: an edge that never builds never needs the service secret for this."""
        if self._stub is None:
            tenancy = TenancyConnection(self._settings, self._service_name)
            channel = open_channel(self._settings.embedding_addr, token=tenancy.token)
            self._stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        return self._stub

    def read(self, voice_id: str, object_key: str) -> bytes:
        request = embedding_pb2.ReadVoiceSampleRequest(voice_id=voice_id, object_key=object_key)
        try:
            return b"".join(m.chunk for m in self._embedding().ReadVoiceSample(request, timeout=self._timeout))
        except grpc.RpcError as error:
            if cast(grpc.Call, error).code() == grpc.StatusCode.NOT_FOUND:
                raise ObjectNotFound(object_key) from None
            raise
