from gateway.ratelimit import RateLimiter


def test_bucket_allows_burst_then_refills_at_rate():
    limiter = RateLimiter(rate_per_second=2.0, burst=3)
    assert [limiter.acquire("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("k", now=0.0)
    assert 0.49 < wait <= 0.5
    assert limiter.acquire("k", now=0.6) == 0.0  # one token came back after 0.5 s
    assert limiter.acquire("other", now=0.6) == 0.0  # keys are independent
    assert RateLimiter.retry_after(0.2) == "1"


def test_bucket_never_exceeds_burst_after_idling():
    limiter = RateLimiter(rate_per_second=100.0, burst=2)
    limiter.acquire("k", now=0.0)
    allowed = sum(limiter.acquire("k", now=1000.0) == 0.0 for _ in range(5))
    assert allowed == 2


def test_forgets_least_recent_keys_beyond_capacity():
    limiter = RateLimiter(rate_per_second=1.0, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.acquire(key, now=0.0)
    assert limiter.acquire("a", now=0.0) == 0.0  # "a" was evicted, so it starts with a full bucket
    assert limiter.acquire("c", now=0.0) > 0
