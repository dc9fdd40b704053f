"""BillingService's gRPC edge."""
