"""Helpers for enrollment tests: upload a voice over gRPC and wait for its verdict."""

from __future__ import annotations

import time

from cli import samples
from tests.integration.conftest import bearer
from timbre.v1 import embedding_pb2

CHUNK = 256 * 1024


def upload(
    stub, token: str, files: list[tuple[str, bytes]], name: str = "voice", language: str = "en", transcript: str = ""
):
    def requests():
        yield embedding_pb2.EnrollVoiceRequest(
            metadata=embedding_pb2.EnrollVoiceMetadata(name=name, language=language, transcript=transcript)
        )
        for index, (filename, data) in enumerate(files):
            for start in range(0, len(data), CHUNK):
                yield embedding_pb2.EnrollVoiceRequest(
                    chunk=embedding_pb2.AudioChunk(
                        file_index=index, filename=filename, data=data[start : start + CHUNK]
                    )
                )

    return stub.EnrollVoice(requests(), metadata=bearer(token)).voice


def wait_status(stub, token: str, voice_id: str, timeout: float = 90.0) -> embedding_pb2.Voice:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = stub.GetVoice(embedding_pb2.GetVoiceRequest(voice_id=voice_id), metadata=bearer(token)).voice
        if voice.status != embedding_pb2.VOICE_STATUS_PROCESSING:
            return voice
        time.sleep(0.3)
    raise AssertionError(f"voice {voice_id} still processing after {timeout}s")


def wait_indexed(app, voice_id: str, present: bool = True, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (voice_id in app.index.snapshot()) == present:
            return
        time.sleep(0.1)
    raise AssertionError(f"voice {voice_id} {'not in' if present else 'still in'} the index after {timeout}s")


def speech(speaker: str, *passages: int, fmt: str = "wav") -> bytes:
    text = " ".join(samples.PASSAGES[i] for i in passages)
    return samples.wav_bytes(samples.speak(speaker, text), fmt=fmt)


def enroll_ready(stub, token: str, speaker: str, passages=(0, 1), name: str = "voice") -> embedding_pb2.Voice:
    voice = upload(stub, token, [("a.wav", speech(speaker, *passages))], name=name)
    return wait_status(stub, token, voice.voice_id)
