"""Watermark: a keyed payload watermark on every output, detection, and the provenance registry."""
