"""Billing settings (environment prefix TIMBRE_)."""

from kit.config import ServiceSettings


class BillingSettings(ServiceSettings):
    service_name: str = "billing"
