"""Everything `/metrics` says about the marketplace, read from the store at scrape time.

The projection's figures come from the store, not from process memory, so any process serving
`/metrics` (`lrs serve`, several of them) shows the same values whatever process did the work
(the worker delivers webhooks and provisions members, possibly elsewhere), on both backends,
without Prometheus's multiprocess mode (a shared directory on one machine). A scrape costs a
few small reads: the status counts, one counter row per subscription and bucket, the newest
reconcile run.

    status gauges and counters              `projections.metrics.METRICS` (lag, backlog...)
    lrs_webhook_delivery_attempts_total{subscription, outcome="success|failure"}
    lrs_webhook_deliveries_dead_lettered_total{subscription}
    lrs_webhook_delivery_latency_seconds{subscription}   histogram: change made → 2xx
    lrs_reconcile_last_drift_percent, _last_drift_records, _last_flagged,
    lrs_reconcile_last_run_timestamp_seconds   the newest recorded run (`lrs reconcile`)
    lrs_members_provisioned_total            just-in-time provisional members made

Series are kept only for subscriptions that exist (a deleted one's counters stay in the store
but leave the exposition).
"""

from __future__ import annotations

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from projections.delivery_metrics import (
    DEAD_LETTERS,
    FAILURE,
    LATENCY_BUCKETS,
    LATENCY_SUM,
    SUCCESS,
    latency_histograms,
)
from projections.metrics import exposition, status_families
from projections.provisioning import PROVISIONED
from projections.service import Projection
from projections.store.counters import CounterKey
from projections.store.reconcile_runs import ReconcileRun


async def projection_metrics(projection: Projection) -> bytes:
    """The marketplace's metrics in the Prometheus text format."""
    subscriptions = [s.id for s in await projection.stores.deliveries.list_subscriptions()]
    counters = await projection.stores.counters.counters()
    families = status_families(await projection.status())
    families += delivery_families(counters, subscriptions)
    families += reconcile_families(await projection.reconcile_runs.latest())
    provisioned = CounterMetricFamily(
        "lrs_members_provisioned", "Provisional members made for unknown learners."
    )
    provisioned.add_metric([], counters.get((PROVISIONED, ""), 0.0))
    return exposition([*families, provisioned])


def delivery_families(counters: dict[CounterKey, float], subscriptions: list[str]) -> list[Metric]:
    """Per-subscription attempts, dead letters and the latency histogram."""
    attempts = CounterMetricFamily(
        "lrs_webhook_delivery_attempts",
        "Webhook delivery attempts by outcome (success: a 2xx answer).",
        labels=("subscription", "outcome"),
    )
    dead = CounterMetricFamily(
        "lrs_webhook_deliveries_dead_lettered",
        "Webhook deliveries that became dead letters.",
        labels=("subscription",),
    )
    latency = HistogramMetricFamily(
        "lrs_webhook_delivery_latency_seconds",
        "From the change an event reports (the worker applying the statement) to its 2xx.",
        labels=("subscription",),
    )
    buckets = latency_histograms(counters)
    empty = [0.0] * (len(LATENCY_BUCKETS) + 1)
    for sub in subscriptions:
        attempts.add_metric([sub, "success"], counters.get((SUCCESS, sub), 0.0))
        attempts.add_metric([sub, "failure"], counters.get((FAILURE, sub), 0.0))
        dead.add_metric([sub], counters.get((DEAD_LETTERS, sub), 0.0))
        latency.add_metric(
            [sub],
            _cumulative(buckets.get(sub, empty)),
            sum_value=counters.get((LATENCY_SUM, sub), 0.0),
        )
    return [attempts, dead, latency]


def _cumulative(counts: list[float]) -> list[tuple[str, float]]:
    bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
    total, found = 0.0, []
    for bound, count in zip(bounds, counts, strict=True):
        total += count
        found.append((bound, total))
    return found


def reconcile_families(run: ReconcileRun | None) -> list[Metric]:
    """The newest recorded reconcile run (no sample before the first run)."""
    figures = {
        "lrs_reconcile_last_drift_percent": (
            "Drift the newest reconcile run found, % of the records expected.",
            None if run is None else run.drift_percent,
        ),
        "lrs_reconcile_last_drift_records": (
            "Records differing, missing or extra that the newest reconcile run found.",
            None if run is None else run.drift,
        ),
        "lrs_reconcile_last_flagged": (
            "Statements the newest reconcile run flagged for review.",
            None if run is None else run.flagged_count,
        ),
        "lrs_reconcile_last_run_timestamp_seconds": (
            "When the newest reconcile run finished.",
            None if run is None else run.finished_us / 1_000_000,
        ),
    }
    families: list[Metric] = []
    for name, (help_text, value) in figures.items():
        family = GaugeMetricFamily(name, help_text)
        if value is not None:
            family.add_metric([], float(value))
        families.append(family)
    return families
