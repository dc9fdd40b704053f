"""Hostile input in bulk (marker `fuzz`)."""
