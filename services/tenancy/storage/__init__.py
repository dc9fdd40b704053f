"""Tenancy's PostgreSQL schema ("tenancy") and the repository over it."""
