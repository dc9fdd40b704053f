"""Tenancy: tenants and tiers, API keys, JWT access tokens (JWKS), quota reservations."""
