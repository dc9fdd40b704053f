"""Embedding's event handlers: enrollment analysis and clean-up, and the speaker-index sync."""
