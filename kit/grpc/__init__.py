"""The gRPC edge every service shares: server bootstrap, interceptors, auth, error mapping, clients."""
