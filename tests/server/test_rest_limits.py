"""The token bucket, pure: burst, sustained rate, Retry-After, bounded memory."""

import pytest

from fanet.server.rest.limits import RateLimiter, retry_after_header


def test_a_burst_is_granted_then_requests_wait_for_tokens() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=3)
    assert [limiter.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 0.0) == pytest.approx(0.1)
    assert limiter.take("a", 0.05) == pytest.approx(0.05)  # half a token came back
    assert limiter.take("a", 0.1) == 0.0


def test_the_sustained_rate_is_the_refill_rate() -> None:
    limiter = RateLimiter(rate_per_s=100, burst=200)
    granted = sum(limiter.take("ip", i / 1000) == 0.0 for i in range(10_000))  # 1,000 req/s for 10 s
    assert granted == pytest.approx(200 + 100 * 10, abs=2)


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1)
    assert limiter.take("a", 0.0) == 0.0
    assert limiter.take("a", 0.0) > 0
    assert limiter.take("b", 0.0) == 0.0


def test_a_bucket_never_holds_more_than_the_burst() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=2)
    limiter.take("a", 0.0)
    assert [limiter.take("a", 1000.0) for _ in range(3)][-1] > 0


def test_the_least_recently_used_key_is_forgotten_past_the_bound() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_keys=2)
    limiter.take("a", 0.0)
    limiter.take("b", 0.0)
    limiter.take("a", 0.0)  # refused, but used: "b" is now the oldest
    limiter.take("c", 0.0)
    assert len(limiter) == 2
    assert limiter.take("b", 0.0) == 0.0  # forgotten: a full bucket again
    assert limiter.take("c", 0.0) > 0


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after_header(s) for s in (0.001, 1.0, 1.2, 30.0)] == ["1", "1", "2", "30"]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0.5), (-1, 10)])
def test_a_limit_that_grants_nothing_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate, burst)
