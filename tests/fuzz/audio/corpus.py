"""Audio files for the fuzz tests: small valid seeds of every accepted format, and hand-made hostile cases.

Everything is generated here (PyAV/FFmpeg, struct, zlib), nothing is checked in: each case says how it
was built and what decoding it must come to.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache

import av
import numpy as np

from kit.audio.codec import encode


def tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A voiced-like signal (harmonics + a little noise): (channels, samples) float32."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    base = sum(0.2 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 6))
    out = np.stack([base * (1 - 0.1 * c) + 0.01 * rng.standard_normal(len(t)) for c in range(channels)])
    return out.astype(np.float32)


def mux(fmt: str, codec: str, samples: np.ndarray, rate: int, layout: str = "mono", **options: str) -> bytes:
    """Encode (channels, n) float32 samples with FFmpeg into container `fmt`."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        stream.options = options
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T.reshape(1, -1)), format="flt", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def wav(samples: np.ndarray, rate: int, sample_format: int = 1, bits: int = 16) -> bytes:
    """A canonical RIFF/WAVE of (channels, n) samples: PCM (format 1) or IEEE float (format 3)."""
    channels = samples.shape[0]
    if sample_format == 3:
        pcm = samples.T.astype("<f4").tobytes()
        bits = 32
    else:
        pcm = (np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", sample_format, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


@cache
def seeds() -> dict[str, bytes]:
    """Valid files, short (0.4 s) so that thousands of mutations decode in seconds."""
    mono16, stereo48 = tone(0.4, 16000), tone(0.4, 48000, 2)
    return {
        "wav": encode(mono16[0], 16000, "wav"),
        "wav-float-stereo": wav(stereo48, 48000, sample_format=3),
        "flac": encode(mono16[0], 16000, "flac"),
        "mp3": encode(mono16[0], 16000, "mp3"),
        "ogg": encode(mono16[0], 16000, "ogg"),
        "m4a": encode(mono16[0], 16000, "m4a"),
        "webm": mux("webm", "libopus", stereo48, 48000, "stereo"),  # what Chromium's MediaRecorder makes
    }


@dataclass(frozen=True)
class Case:
    name: str
    filename: str  # the name it is uploaded under
    data: bytes
    reason: str | None  # the ErrorReason decoding must refuse it with; None: it is audio and decodes


def _rf64(samples: np.ndarray, rate: int, declared_bytes: int) -> bytes:
    """An RF64 WAV (64-bit sizes) whose ds64 chunk declares `declared_bytes` of PCM over a short body."""
    pcm = (samples[0] * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, declared_bytes + 36, declared_bytes, declared_bytes // 2, 0)
    body = b"WAVE" + ds64 + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm
    return b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body


def _flac_of_silence(rate: int, seconds: int, frame_size: int | None = None, declare_length: bool = True) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        if frame_size:
            stream.options = {"frame_size": str(frame_size)}
        minute = rate * 60
        for start in range(0, seconds * rate, minute):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, minute), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = bytearray(buffer.getvalue())
    if not declare_length:  # STREAMINFO's 36-bit total-samples field (0 = unknown), at bytes 21-25
        data[21] &= 0xF0
        data[22:26] = bytes(4)
    return bytes(data)


def _png() -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(24) for _ in range(8)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@cache
def hostile() -> tuple[Case, ...]:
    """The hand-made corpus: lying headers, huge and strange streams, non-audio under audio names."""
    speechlike = tone(2.0, 16000)
    nan_float = tone(1.0, 16000)
    nan_float[0, 5000] = np.nan
    inf_float = tone(1.0, 16000)
    inf_float[0, 100:200] = np.inf
    truncated = seeds()["m4a"][: len(seeds()["m4a"]) // 3]
    return (
        Case("wav declaring 10 GB (RF64)", "huge.wav", _rf64(speechlike, 16000, 10 * 2**30), "AUDIO_TOO_LARGE"),
        Case("hour of silence", "silence.flac", _flac_of_silence(8000, 3600), "AUDIO_TOO_LARGE"),
        Case(
            "decompression bomb: 20 minutes of 48 kHz silence in ~20 kB, length not declared",
            "bomb.flac",
            _flac_of_silence(48000, 1200, frame_size=65535, declare_length=False),
            "AUDIO_TOO_LARGE",
        ),
        Case("float wav with NaN", "nan.wav", wav(nan_float, 16000, sample_format=3), "AUDIO_UNDECODABLE"),
        Case("float wav with infinity", "inf.wav", wav(inf_float, 16000, sample_format=3), "AUDIO_UNDECODABLE"),
        Case("16 channels", "many.wav", wav(tone(1.0, 16000, 16), 16000), "AUDIO_UNDECODABLE"),
        Case("384 kHz", "ultrasonic.wav", wav(tone(0.5, 384000), 384000), "AUDIO_UNDECODABLE"),
        Case("4 kHz", "telephone.wav", wav(tone(1.0, 4000), 4000), "SAMPLE_RATE_TOO_LOW"),
        Case("empty", "empty.wav", b"", "AUDIO_UNDECODABLE"),
        Case("text", "notes.wav", b"This is not audio, just a text file.\n" * 40, "AUDIO_UNDECODABLE"),
        Case("png", "picture.mp3", _png(), "AUDIO_UNDECODABLE"),
        Case("zip of a wav", "archive.wav", _zip_of("a.wav", seeds()["wav"]), "AUDIO_UNDECODABLE"),
        Case(
            "html",
            "page.m4a",
            b"<!doctype html><html><body>" + b"<p>hi</p>" * 100 + b"</body></html>",
            "AUDIO_UNDECODABLE",
        ),
        Case("random bytes", "noise.ogg", np.random.default_rng(7).bytes(64 * 1024), "AUDIO_UNDECODABLE"),
        Case(
            "ID3 tag then garbage",
            "tagged.mp3",
            b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(16) + b"\xff" * 4096,
            "AUDIO_UNDECODABLE",
        ),
        Case("a WAV header only", "header.wav", seeds()["wav"][:44], "AUDIO_UNDECODABLE"),
        Case("truncated m4a (moov cut)", "cut.m4a", truncated, "AUDIO_UNDECODABLE"),
        # Legitimate, if unusual: these must decode.
        Case("8 channels (7.1)", "surround.wav", wav(tone(2.0, 48000, 8), 48000), None),
        Case("192 kHz", "hires.wav", wav(tone(2.0, 192000), 192000), None),
        Case("webm/opus as browsers record", "recording.webm", seeds()["webm"], None),
        Case(
            "wav whose header claims 4 GB of data (streaming writers do)",
            "stream.wav",
            seeds()["wav"][:40] + struct.pack("<I", 0xFFFFFFFF) + seeds()["wav"][44:],
            None,
        ),
    )
