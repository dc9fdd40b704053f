"""Clients one service uses to call another, with the caller's service identity."""
