"""Bar charts as inline SVG, rendered on the server: no JavaScript, no network, printable.

Each chart is an `<svg role="img">` with a title and a description giving the total, one
`<rect>` per period with its own `<title>` (the count, shown as a tooltip), and a few axis
labels. The numbers are also given as a table beside the chart (`console/templates`), so a
screen reader or a text browser gets them without the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 180
_TOP, _BOTTOM, _LEFT = 16, 24, 40


@dataclass(frozen=True)
class Series:
    """Counts per period, each with its label (an hour or a day)."""

    title: str
    labels: list[str]
    counts: list[int]

    @property
    def total(self) -> int:
        """The sum over every period."""
        return sum(self.counts)

    @property
    def rows(self) -> list[tuple[str, int]]:
        """(label, count) per period, for the table beside the chart."""
        return list(zip(self.labels, self.counts, strict=True))


def scale_top(peak: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, 100... at or above `peak` (the axis's top)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10


def svg_open(chart_id: str, height: int, title: str, desc: str, extra: str = "") -> list[str]:
    """The opening of every console chart: the `<svg role="img">` named by its title and
    description (`extra`: more attributes, each with its leading space)."""
    return [
        f'<svg id="{chart_id}" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d"{extra}>',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def bar_chart(series: Series, *, chart_id: str) -> Markup:
    """The series as an accessible SVG bar chart."""
    top = scale_top(max(series.counts, default=0))
    plot_w, plot_h = WIDTH - _LEFT - 8, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(len(series.counts), 1)
    desc = f"{series.total} statements in all"
    parts = svg_open(chart_id, HEIGHT, series.title, desc, f' data-total="{series.total}"')
    parts += [
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    every = max(1, len(series.counts) // 6)
    for n, (label, count) in enumerate(zip(series.labels, series.counts, strict=True)):
        height = plot_h * count / top
        x = _LEFT + n * slot + slot * 0.1
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{_TOP + plot_h - height:.1f}" '
            f'width="{slot * 0.8:.1f}" height="{height:.1f}" data-count="{count}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if n % every == 0:
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
