"""Rate limits of the marketplace API, kept in this process.

- `RateLimiter`: requests per client. A client may make `per_minute` requests in a burst,
  refilled at `per_minute / 60` a second; beyond that it gets 429 with `Retry-After` (whole
  seconds until one request is allowed again).
- `FailedAttempts`: failed client authentications at the OAuth endpoints, per client id and
  per client address, in a sliding window; beyond the limit, 429 with `Retry-After` before
  any secret is checked, so guessing costs the server nothing.

Both live in the process: with N API processes the effective limits are N times these (a
shared limiter would need a store round trip on every request).
"""

from __future__ import annotations

import math
import time
from collections import deque
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


class FailedAttempts:
    """Failed client authentications per key (client id, address) in a sliding window.

    The token and revocation endpoints check a key, then count the attempt as failed before
    running the slow secret check (so concurrent attempts count too), and `forget` it when the
    secret was right; a key with `limit` failures in the last `window_s` seconds is refused
    (429) until its oldest failure leaves the window. Successes are not counted. Keys whose
    failures have all left the window are dropped on a periodic sweep, so random client ids
    cannot grow the table without bound.
    """

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._swept_at = clock()

    def check(self, key: str, limit: int) -> None:
        """RateLimited when `key` already has `limit` failures in the window (0 = no limit)."""
        if limit <= 0:
            return
        now = self._clock()
        recent = self._recent(key, now)
        if len(recent) >= limit:
            oldest = recent[len(recent) - limit]
            raise RateLimited(retry_after=max(1, math.ceil(oldest + self._window_s - now)))

    def record(self, key: str) -> float:
        """Count one failure for `key`; its time, to `forget` it if the attempt succeeds."""
        now = self._clock()
        self._sweep(now)
        self._failures.setdefault(key, deque()).append(now)
        return now

    def forget(self, key: str, at: float) -> None:
        """Un-count the failure recorded at `at` (an attempt counted in advance succeeded)."""
        recent = self._failures.get(key)
        if recent is not None and at in recent:
            recent.remove(at)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.get(key, deque())
        while recent and recent[0] <= now - self._window_s:
            recent.popleft()
        return recent

    def _sweep(self, now: float) -> None:
        if now - self._swept_at < self._window_s:
            return
        self._swept_at = now
        for key in [k for k, times in self._failures.items() if not self._recent(k, now)]:
            del self._failures[key]
