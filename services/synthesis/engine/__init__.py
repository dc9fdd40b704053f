"""The voice engine: base text-to-speech, per-voice conversion, vocoder (CPU, offline)."""
