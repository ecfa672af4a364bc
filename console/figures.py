"""More dashboard pictures, as inline SVG drawn on the server (as `console.charts`): a
horizontal bar per category (statements by source, the quality queue by reason) and the
reconcile drift of the last days against its 1% line. No JavaScript, no network; each has a
title and a description, every mark its own `<title>`, and the page gives the numbers as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from console.charts import WIDTH, svg_open

_LABEL_W, _ROW_H, _PAD = 150, 26, 8
_PLOT_H, _TOP, _BOTTOM, _LEFT = 150, 16, 24, 48


def hbar_chart(rows: list[tuple[str, int]], *, chart_id: str, title: str) -> Markup:
    """One labelled horizontal bar per (label, count), longest bar the largest count."""
    top = max((count for _, count in rows), default=0) or 1
    height = _PAD * 2 + _ROW_H * max(len(rows), 1)
    desc = ", ".join(f"{label}: {count}" for label, count in rows) or "nothing"
    parts = svg_open(chart_id, height, title, desc)
    span = WIDTH - _LABEL_W - 60
    for n, (label, count) in enumerate(rows):
        y = _PAD + n * _ROW_H
        width = span * count / top
        parts += [
            f'<text class="tick" x="{_LABEL_W - 6}" y="{y + 17}" text-anchor="end">'
            f"{escape(label)}</text>",
            f'<rect class="bar" x="{_LABEL_W}" y="{y + 4}" width="{width:.1f}" height="18" '
            f'data-label="{escape(label)}" data-count="{count}">'
            f"<title>{escape(label)}: {count}</title></rect>",
            f'<text class="tick" x="{_LABEL_W + width + 6:.1f}" y="{y + 17}">{count}</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class DriftPoint:
    """One reconcile run: when it started (µs) and the drift it found (% of records)."""

    at_us: int
    percent: float
    label: str


def drift_chart(
    points: list[DriftPoint], *, since_us: int, until_us: int, line: float, chart_id: str
) -> Markup:
    """Each run's drift as a dot at its time, over the window, with the `line` (the SLO)
    drawn across: a dot above it is a run that broke the criterion."""
    top = max([line * 2, *(p.percent for p in points)])
    height = _TOP + _PLOT_H + _BOTTOM
    span = max(until_us - since_us, 1)
    plot_w = WIDTH - _LEFT - 12

    def y_of(percent: float) -> float:
        return _TOP + _PLOT_H * (1 - percent / top)

    above = sum(1 for p in points if p.percent >= line)
    desc = f"{len(points)} runs; {above} at or above {line}%"
    runs = f' data-runs="{len(points)}"'
    parts = svg_open(chart_id, height, "Reconcile drift per run, %", desc, runs)
    base = _TOP + _PLOT_H
    parts += [
        f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{WIDTH - 12}" y2="{base}"/>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top:g}%</text>',
        f'<text class="tick" x="{_LEFT - 4}" y="{base}" text-anchor="end">0</text>',
        f'<line class="slo" x1="{_LEFT}" y1="{y_of(line):.1f}" x2="{WIDTH - 12}" '
        f'y2="{y_of(line):.1f}" stroke="#a11212" stroke-width="2" stroke-dasharray="6 4"/>',
        f'<text class="tick slo-label" fill="#a11212" x="{WIDTH - 14}" y="{y_of(line) - 4:.1f}" '
        f'text-anchor="end">{line:g}% line</text>',
    ]
    for point in points:
        x = _LEFT + plot_w * (point.at_us - since_us) / span
        kind, colour = ("dot over", "#a11212") if point.percent >= line else ("dot", "#2f6db3")
        parts.append(
            f'<circle class="{kind}" fill="{colour}" cx="{x:.1f}" '
            f'cy="{y_of(point.percent):.1f}" r="5" '
            f'data-percent="{point.percent:g}"><title>{escape(point.label)}: '
            f"{point.percent:g}%</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
