"""Per-client rate limits for the marketplace API: a token bucket per client, in this process.

A client may make `per_minute` requests in a burst, refilled at `per_minute / 60` a second;
beyond that it gets 429 with `Retry-After` (whole seconds until one request is allowed again).
Buckets live in the process: with N API processes a client's effective limit is N times its
own (a shared limiter would need a store round trip on every request).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from projections.errors import RateLimited


class RateLimiter:
    """Token buckets keyed by client id."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)

    def check(self, client_id: str, per_minute: int) -> None:
        """Take one request from the client's bucket, or raise RateLimited."""
        if per_minute <= 0:
            return
        now = self._clock()
        tokens, at = self._buckets.get(client_id, (float(per_minute), now))
        rate = per_minute / 60.0
        tokens = min(float(per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[client_id] = (tokens, now)
            raise RateLimited(retry_after=max(1, math.ceil((1.0 - tokens) / rate)))
        self._buckets[client_id] = (tokens - 1.0, now)
