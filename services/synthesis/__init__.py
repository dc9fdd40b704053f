"""Synthesis: the voice engine (engine/), and later the service that builds voices and speaks."""
