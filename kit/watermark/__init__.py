"""The watermark itself (numpy and scipy.fft): keyed spread spectrum in the log-magnitude spectrum."""

from kit.watermark.cells import BLOCK_SECONDS, SLOT_SECONDS
from kit.watermark.mark import Detection, Watermarker

__all__ = ["BLOCK_SECONDS", "SLOT_SECONDS", "Detection", "Watermarker"]
