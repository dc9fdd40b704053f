"""WatermarkService's gRPC edge."""
