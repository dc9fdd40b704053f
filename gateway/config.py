"""Gateway settings (environment prefix TIMBRE_)."""

from kit.config import KitSettings


class GatewaySettings(KitSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Per API key: sustained requests per second and burst size.
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 40
    # Uploads larger than this are refused before they are read whole.
    max_upload_bytes: int = 50 * 1024 * 1024
    grpc_timeout_seconds: float = 30.0
