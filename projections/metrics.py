"""The projection's status as Prometheus metric families (through `prometheus-client`).

`status_families` turns a status dict (`Projection.status`) into gauges and counters; a field
the status lacks (or holds None) gives the family without a sample. `quality_items_open` is
read the same way: the data-quality queue reports its size in the status, and the gauge
follows. `render_metrics` is the text of those families alone (exposition format 0.0.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lrs.xapi.timestamps import timestamp_us

# (metric, help, status field, kind)
METRICS = (
    (
        "lrs_projection_statements_awaiting",
        "Statements stored but not yet projected.",
        "statements_awaiting_projection",
        "gauge",
    ),
    (
        "lrs_projection_statements_unmatched",
        "Projected statements whose actor maps to no member.",
        "statements_unmatched",
        "gauge",
    ),
    (
        "lrs_projection_statements_applied_total",
        "Statements applied by projection workers.",
        "statements_applied",
        "counter",
    ),
    (
        "lrs_projection_last_applied_stored_timestamp_seconds",
        "Stored time of the newest statement applied.",
        "newest_applied_stored_at",
        "gauge",
    ),
    (
        "lrs_projection_lag_seconds",
        "Stored time of the newest statement minus that of the newest applied one.",
        "lag_seconds",
        "gauge",
    ),
    (
        "lrs_webhook_events_unfanned",
        "Outbox events not yet turned into deliveries.",
        "webhook_events_unfanned",
        "gauge",
    ),
    (
        "lrs_webhook_deliveries_pending",
        "Webhook deliveries waiting to be sent or retried.",
        "webhook_deliveries_pending",
        "gauge",
    ),
    (
        "lrs_webhook_deliveries_delivered_total",
        "Webhook deliveries acknowledged.",
        "webhook_deliveries_delivered",
        "counter",
    ),
    (
        "lrs_webhook_dead_letters",
        "Webhook deliveries that gave up.",
        "webhook_dead_letters",
        "gauge",
    ),
    (
        "lrs_quality_items_open",
        "Open data-quality items: statement contributions the mapping could not use.",
        "quality_items_open",
        "gauge",
    ),
)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return timestamp_us(value) / 1_000_000
    return float(value)


def status_families(status: dict[str, Any]) -> list[Metric]:
    """The status's figures as metric families (unknown values: no sample)."""
    families: list[Metric] = []
    for name, help_text, field, kind in METRICS:
        family: CounterMetricFamily | GaugeMetricFamily = (
            CounterMetricFamily(name, help_text)
            if kind == "counter"
            else GaugeMetricFamily(name, help_text)
        )
        value = _number(status.get(field))
        if value is not None:
            family.add_metric([], value)
        families.append(family)
    return families


class Snapshot(Collector):
    """Families read beforehand (the store is async, a collector is not)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def exposition(families: Iterable[Metric]) -> bytes:
    """The families in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(families))
    return generate_latest(registry)


def render_metrics(status: dict[str, Any]) -> str:
    """Prometheus text for a status dict (see `Projection.status`); unknown values omitted."""
    return exposition(status_families(status)).decode()
