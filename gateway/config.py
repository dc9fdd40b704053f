"""Gateway settings (environment prefix TIMBRE_)."""

from kit.config import KitSettings


class GatewaySettings(KitSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Worker processes (TIMBRE_GATEWAY_WORKERS): each has its own credential cache and event listener.
    gateway_workers: int = 1
    # How long an idle keep-alive connection stays open. Longer than the load balancers' in front
    # (60 s on AWS ALB and most proxies), so the server is never the side that closes a connection a
    # client is already sending on: that race answers the request with a dropped connection (uvicorn's
    # default, 5 s, lost a POST of a busy client this way in the scale-out test).
    gateway_keep_alive_seconds: int = 75
    # Per API key: sustained requests per second and burst size.
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 40
    # Where people reach this gateway (TIMBRE_PUBLIC_URL): the voice owner's link is
    # <public_url>/console/owner/<token> (a trailing slash is ignored).
    public_url: str = "http://127.0.0.1:8080"
    # The voice owner's routes (/v1/owner/...): per client address and, separately, per owner-link token,
    # sustained requests per second and burst size. Low: a person reads one page; a guesser gets nowhere.
    owner_rate_limit_per_second: float = 1.0
    owner_rate_limit_burst: int = 10
    # Uploads larger than this are refused before they are read whole.
    max_upload_bytes: int = 50 * 1024 * 1024
    # A whole request body larger than this is refused (413) before it is read: an enrollment's files
    # (the embedding service takes 200 MiB in all) plus the multipart framing and form fields.
    max_request_bytes: int = 201 * 1024 * 1024
    grpc_timeout_seconds: float = 30.0
    # The credential cache (gateway/credential_cache.py): an API key's token is reused for at most this
    # long, the worst-case delay of a revocation whose event never arrives (0: no cache, every request
    # asks tenancy).
    credential_cache_seconds: float = 15.0
    # A cached token is dropped this long before it expires (tenant tokens live 300 s).
    credential_expiry_margin_seconds: float = 30.0
    # The revocation listener must have confirmed it is caught up within this long, or the cache is
    # bypassed (Kafka down, listener behind): with it healthy, revocations bite within this bound.
    credential_listener_stale_seconds: float = 3.0
    credential_cache_max_entries: int = 100_000
    # The job-status cache (gateway/job_status_cache.py): a queued or running job's status is served
    # from the gateway's memory for at most this long when no event of the job arrives (a cancel through
    # another gateway process, progress between two tenth-step events); 0: no cache, every poll asks
    # synthesis. It is bypassed whenever the event listener is not confirmed caught up
    # (credential_listener_stale_seconds).
    job_status_cache_seconds: float = 2.0
    # A finished job (succeeded, failed, cancelled) never changes: kept this long.
    job_status_terminal_cache_seconds: float = 60.0
    job_status_cache_max_entries: int = 100_000
