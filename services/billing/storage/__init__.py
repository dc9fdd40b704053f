"""Billing's PostgreSQL schema ("billing")."""
