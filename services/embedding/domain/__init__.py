"""Enrollment rules: audio acceptance, duplicate-voice decisions, consent phrases. No I/O here."""
