"""Watermark use cases: marking audio (recording provenance), detecting marks, reading provenance."""
