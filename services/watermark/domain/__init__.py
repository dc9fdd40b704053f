"""Provenance rules: who may see what of a generation's record."""
