"""Kafka events: topic specs, Protobuf envelopes, the outbox writer and relay, idempotent consumers."""
