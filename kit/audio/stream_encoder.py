"""Incremental encoding: PCM in, encoded bytes out as soon as the codec has them.

One encoder and one container for the whole stream, so the concatenation of every returned piece is
one valid file (mp3 frames, Ogg pages, FLAC frames, a WAV whose header declares an open length, or
headerless PCM / µ-law). Nothing is held back beyond what the codec itself needs: the muxer flushes
after every packet (FFmpeg's I/O layer would otherwise keep 32 KiB, about two seconds of 128 kbit/s
MP3), and Ogg pages close every 20 ms instead of every second.
"""

from __future__ import annotations

import struct

import av
import numpy as np

from kit.audio.codec import FORMATS, OPUS_RATES, StreamResampler, fixed_rate, to_pcm16

# The muxer's own buffering, switched off: a real-time client hears a piece as soon as it is encoded.
LOW_DELAY = {"flush_packets": "1"}
OGG_PAGE_MICROSECONDS = 20_000  # one Opus frame a page (FFmpeg's default page is a whole second)


class _Sink:
    """A write-only, non-seekable file: muxers then write strictly forward."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def write(self, data) -> int:
        self.pending += bytes(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.pending = bytes(self.pending), bytearray()
        return data


def _wav_header(rate: int) -> bytes:
    open_length = 0xFFFFFFFF  # unknown length: readers play to the end of the stream
    return (
        b"RIFF"
        + struct.pack("<I", open_length)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", open_length)
    )


class StreamEncoder:
    def __init__(self, fmt: str, sample_rate: int, bitrate: int | None = None) -> None:
        if fmt not in FORMATS or fmt == "m4a":
            streamable = ", ".join(f for f in FORMATS if f != "m4a")
            raise ValueError(f"cannot stream {fmt!r}; one of {streamable}")
        self.fmt = fmt
        self.sample_rate = sample_rate
        self._header_sent = False
        container_name, codec, _ = FORMATS[fmt]
        rate = fixed_rate(fmt) or sample_rate
        if codec == "libopus" and rate not in OPUS_RATES:
            rate = min((r for r in OPUS_RATES if r >= rate), default=48000)
        self._resampler = StreamResampler(sample_rate, rate) if rate != sample_rate else None
        self._rate = rate
        self._raw = fmt == "wav" or (codec == "pcm_s16le" and fixed_rate(fmt) is not None)
        if self._raw:  # 16-bit PCM needs no codec: the samples are the bytes
            return
        options = dict(LOW_DELAY)
        if container_name == "ogg":
            options["page_duration"] = str(OGG_PAGE_MICROSECONDS)
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container_name, container_options=options)
        stream = self._container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # every codec in FORMATS is an audio codec
        self._stream = stream
        if bitrate:
            self._stream.bit_rate = bitrate
        self._pts = 0

    def encode(self, samples: np.ndarray) -> bytes:
        """More PCM (float32 mono at sample_rate) → the bytes now ready (possibly empty)."""
        if self._resampler is not None:
            samples = self._resampler(samples)
        if self._raw:
            return self._header() + to_pcm16(samples)
        self._encode_frame(samples)
        return self._sink.take()

    def _header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return _wav_header(self._rate) if self.fmt == "wav" else b""

    def _encode_frame(self, samples: np.ndarray) -> None:
        if len(samples):
            frame = av.AudioFrame.from_ndarray(
                np.clip(samples, -1, 1).astype(np.float32).reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = self._rate
            frame.pts = self._pts
            self._pts += len(samples)
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def finish(self) -> bytes:
        """Flush the codec and close the container; the last bytes of the stream."""
        if self._raw:
            tail = to_pcm16(self._resampler(None)) if self._resampler is not None else b""
            return self._header() + tail
        if self._resampler is not None:
            self._encode_frame(self._resampler(None))
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()
