"""Adapters of the synthesis service's ports that talk to other services (storage/ holds the database's)."""
