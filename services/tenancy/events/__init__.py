"""Tenancy's event handlers (applied by an idempotent consumer): billing's verdicts on tenants, and recorded usage
settling quota reservations."""
