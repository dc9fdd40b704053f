"""Adapters of the embedding service's ports that talk to other services (storage/ holds the database's)."""
