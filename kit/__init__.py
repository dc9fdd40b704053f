"""The shared service kit: config, logging, errors, gRPC edge, database, events, storage, metrics.

Every Timbre service builds on this package; nothing here knows about any one service's domain.
"""
