"""EmbeddingService's gRPC edge."""
