"""Tenant isolation, proven by generated tests: every REST route and RPC that takes an id, tried with
another tenant's ids (and with ids of deleted objects), and forged access tokens (docs/security.md)."""
