"""Billing rules: periods and the deployment cost model."""
