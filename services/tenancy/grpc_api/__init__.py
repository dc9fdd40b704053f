"""TenancyService's gRPC edge: authorisation per call and proto ↔ domain conversion."""
