"""The gateway's backends (gRPC stubs) as in-process fakes: same method names and shapes as the
generated stubs, state a test can inspect (calls made, requests seen), and errors that are real
`grpc.RpcError`s carrying the ErrorInfo detail the services attach (so problem+json shows the reason).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import grpc

from gateway.clients import Backends
from kit.errors import NotFound, TimbreError, Unauthenticated
from kit.grpc.status import to_rpc_status
from timbre.v1 import common_pb2, embedding_pb2, synthesis_pb2, tenancy_pb2, watermark_pb2


class FakeRpcError(grpc.RpcError, grpc.Call):
    """What a failed call raises: the status code, details and trailers (with ErrorInfo) of `error`."""

    def __init__(self, error: TimbreError) -> None:
        status = to_rpc_status(error)
        self._code, self._details, self._trailers = status.code, status.details, status.trailing_metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        return self._trailers

    def initial_metadata(self):
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback) -> bool:
        return False


class Gate:
    """Holds a call until the test releases it (or `timeout` passes), recording when it got there and
    when it left: a slow upstream whose slowness the test controls."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def pass_through(self) -> None:
        self.entered.set()
        self.release.wait(self.timeout)
        self.finished.set()


@dataclass
class FakeTenancy:
    """API keys (secret → tenant id, key id) and the operator secret that IssueToken accepts."""

    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    operator_secret: str = "operator-secret"
    issued: list[tenancy_pb2.IssueTokenRequest] = field(default_factory=list)

    def IssueToken(self, request: tenancy_pb2.IssueTokenRequest, metadata=None) -> tenancy_pb2.IssueTokenResponse:
        self.issued.append(request)
        if request.operator_secret:
            if request.operator_secret != self.operator_secret:
                raise FakeRpcError(Unauthenticated("invalid operator secret"))
            return tenancy_pb2.IssueTokenResponse(access_token="operator-token")
        if request.api_key not in self.api_keys:
            raise FakeRpcError(Unauthenticated("invalid API key", reason="API_KEY_INVALID"))
        tenant_id, key_id = self.api_keys[request.api_key]
        return tenancy_pb2.IssueTokenResponse(
            access_token=f"token-{key_id}", tenant_id=tenant_id, key_id=key_id, tier=common_pb2.TIER_FREE
        )

    def ListApiKeys(self, request, metadata=None) -> tenancy_pb2.ListApiKeysResponse:
        return tenancy_pb2.ListApiKeysResponse()


@dataclass
class FakeEmbedding:
    """Upload RPCs (client streams): each drains its request stream, then waits at the gate if any. The
    owner link's RPCs answer from `owner_views` (token → view); every call's metadata is kept in `metadata`."""

    gate: Gate | None = None
    received: list[list[Any]] = field(default_factory=list)
    owner_token: str = ""  # what SubmitConsent and IssueOwnerLink answer
    owner_views: dict[str, embedding_pb2.OwnerConsentView] = field(default_factory=dict)
    owner_requests: list[Any] = field(default_factory=list)
    metadata: list[list[tuple[str, str]]] = field(default_factory=list)

    def _drain(self, requests: Iterator[Any]) -> None:
        self.received.append(list(requests))
        if self.gate:
            self.gate.pass_through()

    def EnrollVoice(self, requests, metadata=None) -> embedding_pb2.EnrollVoiceResponse:
        self._drain(requests)
        return embedding_pb2.EnrollVoiceResponse(
            voice=embedding_pb2.Voice(voice_id="v-1", name="Ann", status=embedding_pb2.VOICE_STATUS_PROCESSING)
        )

    def VerifySpeaker(self, requests, metadata=None) -> embedding_pb2.VerifySpeakerResponse:
        self._drain(requests)
        return embedding_pb2.VerifySpeakerResponse(score=0.9, threshold=0.7, same_speaker=True)

    def SubmitConsent(self, requests, metadata=None) -> embedding_pb2.SubmitConsentResponse:
        self._drain(requests)
        return embedding_pb2.SubmitConsentResponse(
            consent=embedding_pb2.Consent(consent_id="c-1", voice_id="v-1", kind=embedding_pb2.CONSENT_KIND_SPOKEN),
            owner_token=self.owner_token,
        )

    def GetConsent(self, request, metadata=None) -> embedding_pb2.GetConsentResponse:
        return embedding_pb2.GetConsentResponse(
            consent=embedding_pb2.Consent(consent_id="c-1", voice_id=request.voice_id)
        )

    def IssueOwnerLink(self, request, metadata=None) -> embedding_pb2.IssueOwnerLinkResponse:
        self.owner_requests.append(request)
        self.metadata.append(list(metadata or []))
        if request.voice_id != "v-1":
            raise FakeRpcError(NotFound("voice not found"))
        return embedding_pb2.IssueOwnerLinkResponse(owner_token=self.owner_token, consent_id="c-1")

    def _owner_view(self, request, metadata) -> embedding_pb2.OwnerConsentView:
        self.owner_requests.append(request)
        self.metadata.append(list(metadata or []))
        if request.owner_token not in self.owner_views:
            raise FakeRpcError(NotFound("owner link not found", reason="OWNER_LINK_NOT_FOUND"))
        return self.owner_views[request.owner_token]

    def GetOwnerConsent(self, request, metadata=None) -> embedding_pb2.GetOwnerConsentResponse:
        return embedding_pb2.GetOwnerConsentResponse(view=self._owner_view(request, metadata))

    def RevokeOwnerConsent(self, request, metadata=None) -> embedding_pb2.RevokeOwnerConsentResponse:
        view = self._owner_view(request, metadata)
        view.status = embedding_pb2.CONSENT_STATUS_REVOKED
        if not view.HasField("revoke_time"):
            view.revoke_time.FromSeconds(1_796_000_000)
        return embedding_pb2.RevokeOwnerConsentResponse(view=view)


@dataclass
class FakeWatermark:
    gate: Gate | None = None
    detected: list[bytes] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)  # of the last DetectStream

    def Detect(self, request: watermark_pb2.DetectRequest, metadata=None) -> watermark_pb2.DetectResponse:
        self.detected.append(request.audio)
        if self.gate:
            self.gate.pass_through()
        return watermark_pb2.DetectResponse(watermarked=False, confidence=0.01)

    def DetectStream(self, requests, metadata=None) -> watermark_pb2.DetectStreamResponse:
        chunks = [r.chunk for r in requests]
        self.chunk_sizes = [len(c) for c in chunks]
        return watermark_pb2.DetectStreamResponse(
            detection=self.Detect(watermark_pb2.DetectRequest(audio=b"".join(chunks)), metadata)
        )


class FakeAudioStream:
    """A server stream as the gateway sees it: an iterator of messages that can be cancelled. Like
    gRPC's, it raises its error when the first message is pulled, not when the call is made."""

    def __init__(self, messages: list[synthesis_pb2.ReadJobAudioResponse], error: Exception | None = None) -> None:
        self._messages = iter(messages)
        self._error = error
        self.cancelled = False

    def __iter__(self) -> FakeAudioStream:
        return self

    def __next__(self) -> synthesis_pb2.ReadJobAudioResponse:
        if self._error is not None:
            raise self._error
        return next(self._messages)

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class FakeLiveCall:
    """A bidirectional call as the gateway sees it: an iterator of replies that can be cancelled."""

    def __init__(self, replies) -> None:
        self._replies = replies
        self.cancelled = False

    def __iter__(self) -> FakeLiveCall:
        return self

    def __next__(self) -> synthesis_pb2.SynthesizeLiveResponse:
        return next(self._replies)

    def cancel(self) -> bool:
        self.cancelled = True
        return True


@dataclass
class FakeSynthesis:
    """Finished jobs' audio (job id → bytes) read back in chunks of `chunk_size`, like the service."""

    audio: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, TimbreError] = field(default_factory=dict)
    chunk_size: int = 4
    content_type: str = "audio/wav"
    reads: list[synthesis_pb2.ReadJobAudioRequest] = field(default_factory=list)
    streams: list[FakeAudioStream] = field(default_factory=list)
    live_sessions: list[list[synthesis_pb2.SynthesizeLiveRequest]] = field(default_factory=list)

    def SynthesizeLive(self, requests, metadata=None) -> FakeLiveCall:
        """Echoes each text piece as its "audio", as it arrives; a voice in `failures` fails the call."""
        received: list[synthesis_pb2.SynthesizeLiveRequest] = []
        self.live_sessions.append(received)

        def replies():
            characters = sequence = 0
            for request in requests:
                received.append(request)
                if request.voice_id in self.failures:
                    raise FakeRpcError(self.failures[request.voice_id])
                characters += len(request.text)
                if request.text:
                    yield synthesis_pb2.SynthesizeLiveResponse(
                        generation_id="2147483700",
                        sequence=sequence,
                        audio=request.text.encode(),
                        characters=characters,
                    )
                    sequence += 1
            yield synthesis_pb2.SynthesizeLiveResponse(
                generation_id="2147483700", sequence=sequence, last=True, characters=characters, audio_seconds=1.5
            )

        return FakeLiveCall(replies())

    def ReadJobAudio(self, request: synthesis_pb2.ReadJobAudioRequest, metadata=None) -> FakeAudioStream:
        self.reads.append(request)
        if request.job_id in self.failures:
            stream = FakeAudioStream([], FakeRpcError(self.failures[request.job_id]))
        elif request.job_id not in self.audio:
            stream = FakeAudioStream([], FakeRpcError(NotFound("job not found")))
        else:
            stream = FakeAudioStream(self._messages(self.audio[request.job_id], request.offset, request.length))
        self.streams.append(stream)
        return stream

    def _messages(self, data: bytes, offset: int, length: int) -> list[synthesis_pb2.ReadJobAudioResponse]:
        part = data[offset : offset + length] if length else data[offset:]
        return [
            synthesis_pb2.ReadJobAudioResponse(
                total_size=len(data),
                format=common_pb2.AUDIO_FORMAT_WAV,
                content_type=self.content_type,
                chunk=part[start : start + self.chunk_size],
            )
            for start in range(0, len(part), self.chunk_size)
        ]


def fake_backends(
    tenancy: FakeTenancy | None = None,
    embedding: FakeEmbedding | None = None,
    watermark: FakeWatermark | None = None,
    synthesis: FakeSynthesis | None = None,
    billing: object | None = None,
    analytics: object | None = None,
) -> Backends:
    # The casts: Backends is typed with the generated stubs; the fakes only share their method shapes.
    return Backends(
        tenancy=cast(Any, tenancy or FakeTenancy()),
        billing=cast(Any, billing or object()),
        analytics=cast(Any, analytics or object()),
        embedding=cast(Any, embedding or FakeEmbedding()),
        watermark=cast(Any, watermark or FakeWatermark()),
        synthesis=cast(Any, synthesis or FakeSynthesis()),
        channels=[],
    )
