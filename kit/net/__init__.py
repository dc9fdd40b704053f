"""Outbound network policy shared by services that call addresses their tenants choose."""
