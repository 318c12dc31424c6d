"""Rate limiting: a token bucket per key (client IP, bearer token), pure and bounded.

Each key's bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; a request takes one
token or is refused with the time until one is back (``Retry-After``). Time comes in as an argument
(Trio's clock in the server, plain numbers in tests). At most ``max_keys`` buckets are kept: the least
recently used is forgotten first — a forgotten key starts again with a full bucket, which errs on the
side of the client, and bounds the memory a flood of distinct addresses can take.
"""

import math
from collections import OrderedDict
from collections.abc import Hashable


class RateLimiter:
    """Token buckets by key (see the module docstring). Not thread-safe; one event loop uses it."""

    def __init__(self, rate_per_s: float, burst: float, max_keys: int = 100_000) -> None:
        if not rate_per_s > 0 or not burst >= 1 or max_keys < 1:
            raise ValueError(
                f"a rate limit needs rate_per_s > 0, burst ≥ 1 and max_keys ≥ 1, got {rate_per_s}, {burst}, {max_keys}"
            )
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        """key → (tokens, time they were counted)."""

    def take(self, key: Hashable, now: float) -> float:
        """Take a token for ``key`` at ``now``: 0.0 when granted, else the seconds until one is back."""
        buckets = self._buckets
        entry = buckets.get(key)
        if entry is None:
            tokens = self.burst
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
        else:
            tokens, then = entry
            tokens = min(self.burst, tokens + max(0.0, now - then) * self.rate_per_s)
            buckets.move_to_end(key)
        if tokens >= 1.0:
            buckets[key] = (tokens - 1.0, now)
            return 0.0
        buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate_per_s

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` in whole seconds, at least 1 (HTTP has no fractions there)."""
    return str(max(1, math.ceil(wait_s)))
