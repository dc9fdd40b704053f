"""Audio I/O every service shares: decode any upload (FFmpeg through PyAV), resample, encode."""

from kit.audio.codec import AudioDecodeError, Clip, decode, encode, resample

__all__ = ["AudioDecodeError", "Clip", "decode", "encode", "resample"]
