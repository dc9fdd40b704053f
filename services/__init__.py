"""Timbre's gRPC services, one folder each: domain/, storage/, grpc_api/, events/, migrations/, main.py."""
