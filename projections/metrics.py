"""The projection's status as Prometheus text (exposition format 0.0.4)."""

from __future__ import annotations

from typing import Any

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


def render_metrics(status: dict[str, Any]) -> str:
    """Prometheus text for a status dict (see `Projection.status`); unknown values omitted."""
    lines = []
    for name, help_text, field, kind in METRICS:
        value = _number(status.get(field))
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        if value is not None:
            text = str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0")
            lines.append(f"{name} {text}")
    return "\n".join(lines) + "\n"
