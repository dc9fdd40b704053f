"""Decode and encode audio with FFmpeg's libraries (PyAV): wav, flac, mp3, ogg (vorbis/opus), m4a (aac),
webm/mkv (opus, as browsers record).

Decoding is hostile-input safe: only the containers and codecs above are opened (FFmpeg's many other
demuxers are never reached); what the file declares (duration, channels, sample rate) is checked before
any sample is decoded; and while decoding, the decoded length, its expansion over the file's size and
the sample values are checked frame by frame, so a huge, endless or bomb-like stream is refused
without being held in memory. Every refusal is an AudioDecodeError whose `reason` is an ErrorReason.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
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
    # Headerless, for real-time and telephony clients (as the hosted voice APIs offer): 16-bit
    # little-endian PCM at a fixed rate, and G.711 µ-law at 8 kHz (audio/basic is exactly that).
    "pcm_16000": ("s16le", "pcm_s16le", "audio/pcm;rate=16000"),
    "pcm_22050": ("s16le", "pcm_s16le", "audio/pcm;rate=22050"),
    "pcm_24000": ("s16le", "pcm_s16le", "audio/pcm;rate=24000"),
    "ulaw_8000": ("mulaw", "pcm_mulaw", "audio/basic"),
}
# Formats that name their own sample rate: the audio is made at that rate whatever else is asked.
FIXED_RATES = {"pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000, "ulaw_8000": 8000}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def fixed_rate(fmt: str) -> int | None:
    """The sample rate a headerless format carries implicitly, or None for self-describing files."""
    return FIXED_RATES.get(fmt)


# FFmpeg's demuxers that may read an upload (mov/mp4/m4a and matroska/webm are one demuxer each); FFmpeg
# refuses any other right after probing, before that demuxer parses anything (fewer parsers, fewer bugs).
CONTAINERS = ("wav", "flac", "mp3", "ogg", "mov", "mp4", "m4a", "matroska", "webm")
ACCEPTED = "wav, flac, mp3, ogg, m4a/mp4, webm/mkv"
# A file declaring hundreds of streams makes FFmpeg open a decoder for each while probing (~40 MB seen).
OPEN_OPTIONS = {"format_whitelist": ",".join(CONTAINERS), "max_streams": "16"}
# FFmpeg's decoders for the audio those containers carry.
CODECS = frozenset(
    {"flac", "mp3", "mp3float", "vorbis", "opus", "libopus", "aac", "aac_fixed", "alac"}
    | {f"pcm_{kind}{end}" for kind in ("s16", "s24", "s32", "f32", "f64") for end in ("le", "be")}
    | {"pcm_u8", "pcm_s8", "pcm_alaw", "pcm_mulaw"}
)
MAX_CHANNELS = 8  # up to 7.1 is accepted and downmixed to mono
MIN_RATE, MAX_RATE = 8000, 192000
# A declared duration may exceed the decoded one a little (encoder priming, rounding).
DECLARED_SLACK = 1.01
# Compressed audio expands; speech codecs up to ~400x (Opus silence), so a file that decodes to more than
# MAX_EXPANSION times its size (counted as 16-bit mono) is a decompression bomb, refused as soon as the
# output passes EXPANSION_FLOOR (below it, the duration cap is the bound).
MAX_EXPANSION = 2000
EXPANSION_FLOOR = 8 * 1024 * 1024
# Whatever the duration cap and rate, one decode holds at most this many float32 output samples (512 MiB).
MAX_OUTPUT_SAMPLES = 1 << 27


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
    """Decode to float32 mono, resampled to target_rate (None keeps the native rate).

    Refuses (AudioDecodeError) files over max_bytes, over max_seconds (declared or decoded), of an
    unsupported container, codec, channel count or rate, corrupt streams, NaN/infinite samples and
    decompression bombs."""
    if len(data) > max_bytes:
        raise AudioDecodeError(f"file is {len(data)} bytes; the cap is {max_bytes}", "AUDIO_TOO_LARGE")
    if not data:
        raise AudioDecodeError("empty file")
    try:
        container = av.open(io.BytesIO(data), mode="r", options=OPEN_OPTIONS)
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioDecodeError(f"not a recognised or readable audio file ({ACCEPTED} are accepted)") from exc
    with container:
        stream = _audio_stream(container)
        native_rate, channels = _check_declared(container, stream, max_seconds)
        rate = target_rate or native_rate
        budget = _Budget(len(data), max_seconds, min(int(max_seconds * rate) + rate, MAX_OUTPUT_SAMPLES))
        chunks = list(_decoded(container, stream, rate, budget))
        codec = stream.codec_context.name
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise AudioDecodeError("the file decodes to no samples")
    return Clip(samples, rate, native_rate, codec, channels)


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    if container.format.name.split(",")[0] not in CONTAINERS:  # FFmpeg's whitelist already held; say why
        raise AudioDecodeError(f"{container.format.name} files are not accepted ({ACCEPTED} are)")
    streams = container.streams.audio
    if not streams:
        raise AudioDecodeError("the file has no audio stream")
    stream = streams[0]
    if stream.codec_context is None:  # PyAV leaves it unset when FFmpeg has no decoder for the stream
        raise AudioDecodeError("the audio stream's codec is unknown")
    if stream.codec_context.name not in CODECS:
        raise AudioDecodeError(f"the {stream.codec_context.name} codec is not accepted")
    return stream


def _check_declared(container: av.container.InputContainer, stream: av.AudioStream, max_seconds: float):
    """(native rate, channels) as the headers declare them, refused before anything is decoded."""
    native_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
    if native_rate <= 0:
        raise AudioDecodeError("the audio stream has no sample rate")
    _check_rate(native_rate)
    channels = stream.codec_context.channels or 1
    _check_channels(channels)
    declared = max(
        container.duration / av.time_base if container.duration else 0.0,
        float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0,
    )
    if declared > max_seconds * DECLARED_SLACK + 1:
        raise AudioDecodeError(
            f"the file declares {declared:.0f} s of audio; the cap is {max_seconds:.0f} s", "AUDIO_TOO_LARGE"
        )
    return native_rate, channels


def _check_rate(rate: int) -> None:
    if rate < MIN_RATE:
        raise AudioDecodeError(f"sample rate {rate} Hz; at least {MIN_RATE} Hz is accepted", "SAMPLE_RATE_TOO_LOW")
    if rate > MAX_RATE:
        raise AudioDecodeError(f"sample rate {rate} Hz; at most {MAX_RATE} Hz is accepted")


def _check_channels(channels: int) -> None:
    if channels > MAX_CHANNELS:
        raise AudioDecodeError(f"{channels} channels; at most {MAX_CHANNELS} are accepted")


@dataclass
class _Budget:
    """What one decode may still produce: seconds, expansion over the file's size, output samples."""

    file_bytes: int
    max_seconds: float
    max_output: int
    seconds: float = 0.0
    mono_bytes: int = 0  # decoded so far, counted as 16-bit mono
    output: int = 0

    def take_input(self, frame: av.AudioFrame) -> None:
        self.seconds += frame.samples / frame.sample_rate
        if self.seconds > self.max_seconds:
            raise AudioDecodeError(f"audio is longer than {self.max_seconds:.0f} s", "AUDIO_TOO_LARGE")
        self.mono_bytes += 2 * frame.samples
        if self.mono_bytes > max(EXPANSION_FLOOR, MAX_EXPANSION * self.file_bytes):
            raise AudioDecodeError(
                f"{self.file_bytes} bytes decode to over {self.mono_bytes} bytes of audio (more than "
                f"{MAX_EXPANSION}x): refused as a decompression bomb",
                "AUDIO_TOO_LARGE",
            )

    def take_output(self, chunk: np.ndarray) -> None:
        self.output += len(chunk)
        if self.output > self.max_output:
            raise AudioDecodeError(f"audio decodes to over {self.max_output} samples", "AUDIO_TOO_LARGE")
        if not np.isfinite(chunk).all():
            raise AudioDecodeError("the audio contains invalid sample values (NaN or infinity)")


def _decoded(
    container: av.container.InputContainer, stream: av.AudioStream, rate: int, budget: _Budget
) -> Iterator[np.ndarray]:
    """Float32 mono chunks at `rate`, each checked against the budget as it is produced. A stream whose
    rate or layout changes midway (chained files) gets a fresh resampler from that frame on."""
    resampler, shape = None, None
    try:
        for frame in container.decode(stream):
            _check_rate(frame.sample_rate)
            _check_channels(frame.layout.nb_channels)
            budget.take_input(frame)
            frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
            if resampler is None or frame_shape != shape:
                if resampler is not None:
                    yield from _drain(resampler, None, budget)
                resampler, shape = av.AudioResampler(format="flt", layout="mono", rate=rate), frame_shape
            yield from _drain(resampler, frame, budget)
        if resampler is not None:
            yield from _drain(resampler, None, budget)
    except av.error.FFmpegError as exc:
        raise AudioDecodeError(f"the audio stream is corrupt ({exc.__class__.__name__})") from exc


def _drain(resampler: av.AudioResampler, frame: av.AudioFrame | None, budget: _Budget) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        chunk = out.to_ndarray().reshape(-1)
        budget.take_output(chunk)
        yield chunk


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
    """Encode float mono samples as wav, flac, mp3, ogg (Opus), m4a (AAC), or headerless PCM / µ-law
    (resampled to the format's own rate when `sample_rate` differs)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    implied = fixed_rate(fmt)
    if implied and implied != sample_rate:
        samples, sample_rate = resample(samples, sample_rate, implied), implied
    if FORMATS[fmt][1] == "pcm_s16le" and implied:
        return to_pcm16(samples)
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
