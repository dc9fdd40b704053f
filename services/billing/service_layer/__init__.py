"""Billing use cases: aggregating usage events (inside the consumer's transaction), usage and cost reports."""
