"""Tenancy rules, free of frameworks: tiers and their limits, API-key format, quota arithmetic."""
