"""REST gateway (FastAPI → gRPC): API-key auth, rate limits, problem+json errors, OpenAPI."""
