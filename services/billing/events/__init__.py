"""Billing's event handlers (applied by an idempotent consumer)."""
