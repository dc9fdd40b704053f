"""Timbre: the command-line front (``timbre``), the local stack launcher and the generated protos (timbre.v1)."""
