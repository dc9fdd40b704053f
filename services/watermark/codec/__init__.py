"""The watermark itself (pure numpy): keyed spread-spectrum in the log-magnitude spectrum."""

from services.watermark.codec.mark import Detection, Watermarker

__all__ = ["Detection", "Watermarker"]
