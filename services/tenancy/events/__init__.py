"""Tenancy's event handlers (applied by an idempotent consumer): billing's verdicts on tenants."""
