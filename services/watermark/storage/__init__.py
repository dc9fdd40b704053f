"""Watermark's PostgreSQL schema ("watermark"): the provenance registry."""
