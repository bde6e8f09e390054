"""A line chart of metric histories as a self-contained SVG, with no plotting library.

One polyline with markers per series, axes with nice ticks, a legend and a title. NaN
points are skipped (the line breaks there); +inf and -inf are drawn on the top or bottom
edge as open triangles; a series of one point is a marker. All text is XML-escaped::

    svg = render_svg([Series("01m8hhr2", [(0, 0.9), (1, 0.5), (2, 0.31)])], title="loss")
    Path("loss.svg").write_text(svg)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = ["Series", "html_page", "nice_ticks", "render_svg"]

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 40, 50  # margins: the legend sits on the right
#: Colours of the series, in order (Tableau 10: distinct, readable for most colour vision).
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


@dataclass(frozen=True)
class Series:
    """One line of the chart: a label for the legend and (x, y) points in x order."""

    label: str
    points: Sequence[tuple[float, float]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering
    ``low..high``.

    >>> nice_ticks(0.03, 0.97)
    [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    """
    if high < low:
        low, high = high, low
    if high == low:
        low, high = low - (abs(low) or 1) * 0.5, high + (abs(high) or 1) * 0.5
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step)
    return [index * step for index in range(first, last + 1)]


def render_svg(series: Sequence[Series], *, title: str, x_label: str = "step") -> str:
    """The chart as SVG text (a complete document, valid XML)."""
    xs = [x for line in series for x, _ in line.points]
    ys = [y for line in series for _, y in line.points if math.isfinite(y)]
    x_ticks = nice_ticks(min(xs, default=0), max(xs, default=1))
    y_ticks = nice_ticks(min(ys, default=0), max(ys, default=1))
    plot = _Frame(x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2:.1f}" y="24" text-anchor="middle" font-size="16">'
        f"{escape(title)}</text>",
        *_axes(plot, x_ticks, y_ticks, x_label),
    ]
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.extend(_line(plot, line, colour))
        parts.extend(_legend_entry(index, line.label, colour))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def html_page(svg: str, *, title: str) -> str:
    """A minimal HTML page showing the SVG inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{svg}</body>\n</html>\n"
    )


@dataclass(frozen=True)
class _Frame:
    """Maps data coordinates to pixels inside the margins."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def x(self, value: float) -> float:
        span = self.x_high - self.x_low
        return LEFT + (value - self.x_low) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        if value == math.inf:
            return TOP
        if value == -math.inf:
            return HEIGHT - BOTTOM
        span = self.y_high - self.y_low
        return HEIGHT - BOTTOM - (value - self.y_low) / span * (HEIGHT - TOP - BOTTOM)


def _axes(plot: _Frame, x_ticks: list[float], y_ticks: list[float], x_label: str) -> list[str]:
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    parts = [
        '<g stroke="#ccc" stroke-width="1">'
        + "".join(
            f'<line x1="{left}" y1="{plot.y(t):.1f}" x2="{right}" y2="{plot.y(t):.1f}"/>'
            for t in y_ticks
        )
        + "</g>",
        f'<path d="M{left},{top} V{bottom} H{right}" fill="none" stroke="black"/>',
    ]
    for tick in x_ticks:
        px = plot.x(tick)
        parts.append(
            f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 5}" stroke="black"/>'
            f'<text x="{px:.1f}" y="{bottom + 18}" text-anchor="middle">{_tick(tick)}</text>'
        )
    for tick in y_ticks:
        py = plot.y(tick)
        parts.append(
            f'<line x1="{left - 5}" y1="{py:.1f}" x2="{left}" y2="{py:.1f}" stroke="black"/>'
            f'<text x="{left - 8}" y="{py + 4:.1f}" text-anchor="end">{_tick(tick)}</text>'
        )
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    return parts


def _line(plot: _Frame, line: Series, colour: str) -> list[str]:
    parts: list[str] = []
    segment: list[str] = []
    markers: list[str] = []
    for x, y in line.points:
        if math.isnan(y):
            parts.extend(_polyline(segment, colour))
            segment = []
            continue
        px, py = plot.x(x), plot.y(y)
        segment.append(f"{px:.1f},{py:.1f}")
        tip = escape(f"{line.label} step {x:g}: {y:g}")
        if math.isinf(y):  # clipped to the edge: an open triangle pointing outwards
            sign = -1 if y > 0 else 1
            markers.append(
                f'<path d="M{px - 5:.1f},{py - sign * 7:.1f} L{px + 5:.1f},{py - sign * 7:.1f} '
                f'L{px:.1f},{py:.1f} Z" fill="white" stroke="{colour}" stroke-width="2">'
                f"<title>{tip}</title></path>"
            )
        else:
            markers.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{tip}</title></circle>"
            )
    parts.extend(_polyline(segment, colour))
    return parts + markers


def _polyline(points: list[str], colour: str) -> list[str]:
    if len(points) < 2:
        return []
    return [
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
        'stroke-width="2" stroke-linejoin="round"/>'
    ]


def _legend_entry(index: int, label: str, colour: str) -> list[str]:
    x, y = WIDTH - RIGHT + 20, TOP + 10 + index * 20
    return [
        f'<line x1="{x}" y1="{y}" x2="{x + 20}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
        f'<circle cx="{x + 10}" cy="{y}" r="3" fill="{colour}"/>'
        f'<text x="{x + 28}" y="{y + 4}">{escape(label)}</text>'
    ]


def _tick(value: float) -> str:
    # Round away the float noise of tick arithmetic (0.6000000000000001 -> 0.6).
    return escape(f"{round(value, 10):g}")
