"""Watermark's event handlers: the provenance registry follows completed generations."""
