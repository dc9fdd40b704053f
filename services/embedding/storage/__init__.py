"""Embedding's PostgreSQL schema ("embedding") and repositories."""
