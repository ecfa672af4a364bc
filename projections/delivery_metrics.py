"""Webhook delivery outcomes as counters in the store, for `/metrics` (`projections.slo_metrics`).

Deliveries happen in the dispatcher, which may run in a worker process other than the one
`/metrics` is scraped from, and several dispatchers may run: each outcome is added to the
store's counters (`CounterStore`), per subscription, so every process exposes the same totals.

Per subscription:

- attempts that got a 2xx (`webhook_success`) and attempts that did not (`webhook_failure`:
  another status, a timeout, a refused connection), and dead letters (`webhook_dead`);
- the latency of each delivered event caused by newly stored statements, from when the
  earliest of them was stored (the event's `source_stored_at`) to the 2xx: projection and
  delivery together, what the marketplace waits for. In the fixed buckets `LATENCY_BUCKETS`
  (`webhook_latency_bucket`, series "<subscription>\\t<bucket index>",
  `len(LATENCY_BUCKETS)` for +Inf) and their sum (`webhook_latency_sum`). Events no newly
  stored statement caused (a `reconcile --fix`, a mapping deploy, a replay, an erasure, a
  member's lifecycle) carry no `source_stored_at` and are not in the histogram: their
  statements may be months old, and their latency says nothing of the feed's.

Bucket bounds are part of the stored counters: changing them starts the histogram afresh
(rename the counter).
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict

import orjson

from lrs.errors import LRSError
from lrs.xapi.timestamps import timestamp_us
from projections.store.base import DEAD, DELIVERED, Delivery
from projections.store.counters import CounterKey, CounterStore

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
PREFIX = "webhook_"
SUCCESS, FAILURE, DEAD_LETTERS = "webhook_success", "webhook_failure", "webhook_dead"
LATENCY_BUCKET, LATENCY_SUM = "webhook_latency_bucket", "webhook_latency_sum"


def source_stored_us(body: bytes) -> int | None:
    """The event's `source_stored_at` in microseconds (None: absent or not readable)."""
    try:
        value = orjson.loads(body).get("source_stored_at") if body else None
        return timestamp_us(value) if isinstance(value, str) else None
    except (orjson.JSONDecodeError, LRSError, AttributeError):
        return None


def increments(delivery: Delivery, state: str, now_us: int) -> dict[CounterKey, float]:
    """The counters one attempt's outcome adds to."""
    sub = delivery.subscription_id
    if state != DELIVERED:
        found: dict[CounterKey, float] = {(FAILURE, sub): 1}
        if state == DEAD:
            found[(DEAD_LETTERS, sub)] = 1
        return found
    found = {(SUCCESS, sub): 1}
    happened = source_stored_us(delivery.body)
    if happened is not None:
        latency = max(0.0, (now_us - happened) / 1_000_000)
        bucket = bisect.bisect_left(LATENCY_BUCKETS, latency)
        found[(LATENCY_BUCKET, f"{sub}\t{bucket}")] = 1
        found[(LATENCY_SUM, sub)] = latency
    return found


def latency_histograms(counters: dict[CounterKey, float]) -> dict[str, list[float]]:
    """The latency histogram of each subscription: its count per bucket of `LATENCY_BUCKETS`,
    the last one +Inf (not cumulative)."""
    found: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(LATENCY_BUCKETS) + 1))
    for (name, series), value in counters.items():
        if name == LATENCY_BUCKET:
            sub, _, index = series.partition("\t")
            found[sub][int(index)] += value
    return dict(found)


def latency_quantile(counts: list[float], q: float) -> float | None:
    """The latency under which a share `q` of the deliveries fell, estimated from the
    histogram as Prometheus's `histogram_quantile` does (linear within the bucket); None
    without deliveries, `inf` when it falls in the +Inf bucket."""
    total = sum(counts)
    if total <= 0:
        return None
    rank, seen = q * total, 0.0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(LATENCY_BUCKETS):
                return float("inf")
            low = LATENCY_BUCKETS[index - 1] if index else 0.0
            return low + (LATENCY_BUCKETS[index] - low) * (rank - seen) / count
        seen += count
    return float("inf")  # unreachable: the ranks sum to the total


class DeliveryOutcomes:
    """Adds each attempt's outcome to the store's counters (`WebhookService(outcomes=...)`)."""

    def __init__(self, counters: CounterStore) -> None:
        self._counters = counters

    async def note(self, delivery: Delivery, state: str, now_us: int) -> None:
        """Count the outcome; a failure to count is logged, never fails the delivery."""
        try:
            await self._counters.add(increments(delivery, state, now_us))
        except LRSError as exc:  # e.g. the store is unavailable: the outcome itself is recorded
            log.warning("webhook outcome not counted: %s", exc)
