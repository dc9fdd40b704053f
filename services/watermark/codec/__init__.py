"""The watermark itself (numpy and scipy.fft): keyed spread spectrum in the log-magnitude spectrum."""

from services.watermark.codec.cells import BLOCK_SECONDS, SLOT_SECONDS
from services.watermark.codec.mark import Detection, Watermarker

__all__ = ["BLOCK_SECONDS", "SLOT_SECONDS", "Detection", "Watermarker"]
