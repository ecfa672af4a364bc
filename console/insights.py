"""The dashboard's second half: where statements come from, how fast webhooks arrive, how far
the records drifted, what the quality queue holds and how many learners wait to be matched.
Plain functions of the stores (tested without HTTP); the pictures are `console.figures`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from console.sources import SourceCounts, source_counts
from lrs.store.base import Backend
from projections.delivery_metrics import LATENCY_BUCKET, latency_histograms, latency_quantile
from projections.reconcile_runs import DriftHistory
from projections.service import Projection

SOURCE_DAYS = 7
DRIFT_DAYS = 7
DAY_US = 86_400_000_000


@dataclass(frozen=True)
class LatencyRow:
    """A subscription's delivery latency (from the statement's storing to the 2xx)."""

    subscription_id: str
    url: str
    measured: int  # deliveries in the histogram
    p50: float | None
    p95: float | None


def seconds(value: float | None) -> str:
    """A latency as the dashboard prints it."""
    if value is None:
        return "none measured"
    if math.isinf(value):
        return "over 3600 s"
    return f"{value:.2f} s"


@dataclass(frozen=True)
class Insights:
    """What the dashboard shows beside the stored counts and the projection status."""

    sources: SourceCounts
    source_days: int
    latency: list[LatencyRow]
    drift: DriftHistory
    unmatched_learners: int


async def latency_rows(projection: Projection) -> list[LatencyRow]:
    """p50 and p95 per subscription, from the delivery latency histograms of the counters."""
    histograms = latency_histograms(await projection.stores.counters.counters(LATENCY_BUCKET))
    rows = []
    for sub in await projection.stores.deliveries.list_subscriptions():
        counts = histograms.get(sub.id, [])
        rows.append(
            LatencyRow(
                sub.id,
                sub.url,
                int(sum(counts)),
                latency_quantile(counts, 0.5),
                latency_quantile(counts, 0.95),
            )
        )
    return rows


async def insights(backend: Backend, projection: Projection, now_us: int) -> Insights:
    """Everything of `Insights`, read from the existing stores."""
    keys = {c.key for c in await backend.credentials.list_credentials()}
    sources = await source_counts(
        backend.statements, keys, since_us=now_us - SOURCE_DAYS * DAY_US, until_us=now_us
    )
    return Insights(
        sources=sources,
        source_days=SOURCE_DAYS,
        latency=await latency_rows(projection),
        drift=await projection.reconcile_runs.history(DRIFT_DAYS),
        unmatched_learners=len(await projection.stores.facts.unmatched_counts()),
    )
