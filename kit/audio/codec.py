"""Decode and encode audio with FFmpeg's libraries (PyAV): wav, flac, mp3, ogg (vorbis/opus), m4a (aac).

Decoding enforces byte and duration caps while it reads, so a huge or endless stream is refused
without being held in memory.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

FORMATS = {
    # name: (container, codec, content type)
    "wav": ("wav", "pcm_s16le", "audio/wav"),
    "flac": ("flac", "flac", "audio/flac"),
    "mp3": ("mp3", "libmp3lame", "audio/mpeg"),
    "ogg": ("ogg", "libopus", "audio/ogg"),
    "m4a": ("ipod", "aac", "audio/mp4"),
}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class AudioDecodeError(ValueError):
    """Not decodable audio; `reason` is the ErrorReason name for callers to report."""

    def __init__(self, message: str, reason: str = "AUDIO_UNDECODABLE") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    native_rate: int  # the rate the file was recorded at
    codec: str
    channels: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(
    data: bytes, target_rate: int | None = 16000, max_seconds: float = 600.0, max_bytes: int = 50 * 1024 * 1024
) -> Clip:
    """Decode to float32 mono, resampled to target_rate (None keeps the native rate)."""
    if len(data) > max_bytes:
        raise AudioDecodeError(f"file is {len(data)} bytes; the cap is {max_bytes}", "AUDIO_TOO_LARGE")
    if not data:
        raise AudioDecodeError("empty file")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioDecodeError(f"not a recognised audio file ({exc.__class__.__name__})") from exc
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioDecodeError("the file has no audio stream")
        stream = streams[0]
        native_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        if native_rate <= 0:
            raise AudioDecodeError("the audio stream has no sample rate")
        rate = target_rate or native_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, total = [], 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > max_seconds * rate:
                    raise AudioDecodeError(f"audio is longer than {max_seconds:.0f} s", "AUDIO_TOO_LARGE")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise AudioDecodeError(f"the audio stream is corrupt ({exc.__class__.__name__})") from exc
        channels = stream.codec_context.channels or 1
        codec = stream.codec_context.name
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise AudioDecodeError("the file decodes to no samples")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("the audio contains invalid sample values")
    return Clip(samples, rate, native_rate, codec, channels)


def preload_resampler() -> None:
    """Import what `resample` needs now. `resample` defers scipy.signal (seconds to import) so the
    CLI starts fast; a service that resamples on its request path calls this at start, so that its
    first request does not pay the import."""
    import scipy.signal  # noqa: F401 - imported for its side effect: loaded once, here


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # deferred: see preload_resampler

    ratio = Fraction(to_rate, from_rate).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def encode(samples: np.ndarray, sample_rate: int, fmt: str = "wav", bitrate: int | None = None) -> bytes:
    """Encode float mono samples as wav, flac, mp3, ogg (Opus) or m4a (AAC)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(to_pcm16(samples))
        return buffer.getvalue()
    container_name, codec, _ = FORMATS[fmt]
    rate = sample_rate
    if codec == "libopus" and rate not in OPUS_RATES:
        rate = min((r for r in OPUS_RATES if r >= rate), default=48000)
        samples = resample(samples, sample_rate, rate)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # every codec in FORMATS is an audio codec
        if bitrate:
            stream.bit_rate = bitrate
        pcm = np.clip(samples, -1, 1).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def content_type(fmt: str) -> str:
    return FORMATS[fmt][2]


class StreamResampler:
    """Resamples a stream chunk by chunk with filter state carried across chunks (no clicks at the
    seams, unlike resampling each chunk on its own). Call with None at the end to flush."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        self._resampler = None if from_rate == to_rate else av.AudioResampler(format="flt", layout="mono", rate=to_rate)

    def __call__(self, samples: np.ndarray | None) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.float32) if samples is None else samples.astype(np.float32, copy=False)
        frame = None
        if samples is not None:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples, dtype=np.float32)[None], format="flt", layout="mono"
            )
            frame.sample_rate = self.from_rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
