"""Billing: usage aggregation per tenant and period (idempotent Kafka consumers), cost report.
Stripe reporting arrives with the billing issue."""
