"""The dashboard's pictures of `console.insights`: by source, drift, quality by reason."""

from __future__ import annotations

from markupsafe import Markup

from console.figures import DriftPoint, drift_chart, hbar_chart
from console.pages import Dashboard
from projections.reconcile_runs import DRIFT_SLO_PERCENT
from projections.transforms import format_datetime


def insight_charts(data: Dashboard) -> dict[str, Markup]:
    """The SVG of each picture, by name."""
    more = data.insights
    drift = more.drift
    points = [
        DriftPoint(run.started_us, run.drift_percent, format_datetime(run.started_us))
        for run in drift.runs
    ]
    return {
        "sources": hbar_chart(
            list(more.sources.counts.items()),
            chart_id="chart-sources",
            title=f"Statements by source, last {more.source_days} days",
        ),
        "drift": drift_chart(
            points,
            since_us=drift.since_us,
            until_us=drift.until_us,
            line=DRIFT_SLO_PERCENT,
            chart_id="chart-drift",
        ),
        "quality": hbar_chart(
            data.quality, chart_id="chart-quality", title="Open quality-queue items by reason"
        ),
    }
