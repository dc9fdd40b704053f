"""Billing's adapters to the outside: Stripe through its official SDK."""
