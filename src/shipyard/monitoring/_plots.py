"""The drift report's pictures as self-contained SVG text, with no plotting library.

Two plots of our own, plus line charts drawn by the tracking chart
(:func:`shipyard.tracking._chart.render_svg`, whose palette and ticks these share):

- :func:`histogram_svg`: a column's reference and current distributions as bar pairs.
  Numeric bins are drawn equally wide and labelled by their edges, because the edges
  may be quantiles or open-ended (``-inf``/``inf``): what drift compares is the share
  per bin, and equal slots show exactly that.
- :func:`drift_bars_svg`: one horizontal bar per column, its statistic relative to its
  threshold (:attr:`ColumnDrift.threshold_ratio`), so a distance and a p-value share one axis whose
  1 is "drifted".
- :func:`performance_svg`, :func:`drift_share_history_svg`, :func:`column_history_svg`:
  line charts over hours of a window, or over windows.

Every function returns a complete SVG document (valid XML, ``xmlns`` included, so it can
be saved as a ``.svg`` file); all text is XML-escaped, and coordinates are rounded to
one decimal to keep a report with many plots small::

    svg = histogram_svg(column.histogram, title=column.column)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from itertools import zip_longest
from xml.sax.saxutils import escape

from shipyard.monitoring._result import ColumnDrift, Histogram, MonitoringResult, PerformanceResult
from shipyard.tracking._chart import PALETTE, Series, nice_ticks, render_svg

__all__ = [
    "column_history_svg",
    "drift_bars_svg",
    "drift_share_history_svg",
    "histogram_svg",
    "performance_svg",
]

REFERENCE_COLOUR, CURRENT_COLOUR, DRIFT_COLOUR = PALETTE[0], PALETTE[1], PALETTE[2]
NO_DRIFT_COLOUR = "#9db4cc"  # a paler reference blue: compared, not drifted
MUTED = "#777"
CHAR_WIDTH = 6.5  # average advance of a 11-12 px sans-serif character, for fitting labels
# Characters XML 1.0 forbids even when escaped; a column name could carry one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_SUFFIXES = ((1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"))

HIST_WIDTH, HIST_HEIGHT = 520, 260
HIST_LEFT, HIST_RIGHT, HIST_TOP = 48, 22, 46
MAX_EDGE_LABELS = 7
ROTATED_LABEL_CHARS = 14

BARS_WIDTH = 760
BARS_LABEL, BARS_RIGHT, BARS_TOP, BARS_BOTTOM = 200, 170, 56, 34
BARS_ROW = 20
#: The drift bars' axis ends here (times the threshold); longer bars are clipped.
BARS_MAX_RATIO = 5.0
BARS_LABEL_CHARS = 28

#: Lines drawn at most in the history chart of column statistics.
HISTORY_COLUMNS = 5
LEGEND_CHARS = 20  # render_svg's legend is 170 px wide


def _text(value: str) -> str:
    """``value`` as XML character data: escaped, characters XML forbids replaced."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _short(value: float) -> str:
    """A number in a few characters, for tick labels and tooltips (12.5k, not 1.25e+04)."""
    if math.isnan(value):
        return "?"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    rounded = float(f"{value:.3g}")  # first, so 999999 reads 1M rather than 1e+03k
    for limit, suffix in _SUFFIXES:
        if limit <= abs(rounded) < limit * 1000:
            return f"{rounded / limit:.3g}{suffix}"
    return f"{rounded:.3g}"


def _percent(share: float) -> str:
    return f"{round(share * 100, 8):.3g}%" if math.isfinite(share) else "?"


def _clip(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def _open(width: float, height: float, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" font-family="sans-serif" font-size="12">',
        f"<title>{_text(title)}</title>",
        f'<rect width="{width}" height="{height:.0f}" fill="white"/>',
    ]


def _legend(right: float, y: float) -> str:
    """The reference / current swatches, right-aligned at ``right``."""
    x = right - 150
    return (
        f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{REFERENCE_COLOUR}"/>'
        f'<text x="{x + 14}" y="{y}">reference</text>'
        f'<rect x="{x + 82}" y="{y - 9}" width="10" height="10" fill="{CURRENT_COLOUR}"/>'
        f'<text x="{x + 96}" y="{y}">current</text>'
    )


def histogram_svg(histogram: Histogram, *, title: str) -> str:
    """Reference and current shares side by side, one pair of bars per bin or category.

    Hovering a bin shows its range (or full label) and both shares. Long category
    labels are cut with "…" and keep their full text as a tooltip.
    """
    pairs = [
        (_finite_share(ref), _finite_share(cur))
        for ref, cur in zip_longest(histogram.reference, histogram.current, fillvalue=0.0)
    ]
    names = _bin_names(histogram, len(pairs))
    slot = (HIST_WIDTH - HIST_LEFT - HIST_RIGHT) / max(len(pairs), 1)
    rotated = histogram.kind == "categorical" and any(
        len(name) * CHAR_WIDTH > slot - 4 for name in names
    )
    longest = max((len(_clip(name, ROTATED_LABEL_CHARS)) for name in names), default=0)
    bottom = 24 + (longest * CHAR_WIDTH * 0.72 if rotated else 0)  # sin 46° of the text
    height = HIST_HEIGHT + bottom
    base = height - bottom  # the x axis
    parts = [
        *_open(HIST_WIDTH, height, title),
        f'<text x="{HIST_LEFT}" y="20" font-size="14" font-weight="bold">'
        f"{_text(_clip(title, 40))}</text>",
        _legend(HIST_WIDTH - HIST_RIGHT, 20),
    ]
    if not pairs:
        parts.append(
            f'<text x="{HIST_WIDTH / 2}" y="{base / 2:.1f}" fill="{MUTED}" '
            'text-anchor="middle">no values to compare</text></svg>'
        )
        return "\n".join(parts) + "\n"
    ticks = nice_ticks(0.0, max(0.01, *(max(pair) for pair in pairs)), count=4)
    scale = (base - HIST_TOP) / ticks[-1]
    parts.extend(_share_axis(ticks, scale, base))
    refs, curs, tips = [], [], []
    for index, ((ref, cur), name) in enumerate(zip(pairs, names, strict=True)):
        x = HIST_LEFT + index * slot
        for share, offset, out in ((ref, 0.1, refs), (cur, 0.5, curs)):
            if share > 0:
                out.append(
                    _rect(x + offset * slot, base - share * scale, 0.4 * slot, share * scale)
                )
        tip = f"{name}: reference {_percent(ref)}, current {_percent(cur)}"
        tips.append(_rect(x, HIST_TOP, slot, base - HIST_TOP, f"<title>{_text(tip)}</title>"))
    parts += [
        f'<g fill="{REFERENCE_COLOUR}">{"".join(refs)}</g>',
        f'<g fill="{CURRENT_COLOUR}">{"".join(curs)}</g>',
        # Invisible hover targets: a whole slot shows its bin's tooltip.
        f'<g fill="black" fill-opacity="0">{"".join(tips)}</g>',
        f'<path d="M{HIST_LEFT},{base:.1f} H{HIST_WIDTH - HIST_RIGHT}" stroke="black"/>',
    ]
    if histogram.kind == "numeric":
        parts.extend(_edge_labels(histogram.edges, len(pairs), slot, base))
    else:
        parts.extend(_category_labels(names, slot, base, rotated=rotated))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _finite_share(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def _rect(x: float, y: float, width: float, height: float, inner: str = "") -> str:
    box = f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}"'
    return f"{box}>{inner}</rect>" if inner else f"{box}/>"


def _bin_names(histogram: Histogram, count: int) -> list[str]:
    """What each bar stands for, in tooltips: a category label or an edge range."""
    if histogram.kind == "categorical":
        labels = list(histogram.labels[:count])
        return labels + [f"category {i + 1}" for i in range(len(labels), count)]
    edges = histogram.edges
    if len(edges) != count + 1:  # malformed edges: name the bins by position instead
        return [f"bin {i + 1}" for i in range(count)]
    return [f"{_short(edges[i])} … {_short(edges[i + 1])}" for i in range(count)]


def _share_axis(ticks: list[float], scale: float, base: float) -> list[str]:
    lines, labels = [], []
    for tick in ticks:
        y = base - tick * scale
        lines.append(
            f'<line x1="{HIST_LEFT}" y1="{y:.1f}" x2="{HIST_WIDTH - HIST_RIGHT}" y2="{y:.1f}"/>'
        )
        labels.append(f'<text x="{HIST_LEFT - 6}" y="{y + 4:.1f}">{_percent(tick)}</text>')
    return [
        f'<g stroke="#e4e4e4">{"".join(lines)}</g>',
        f'<g text-anchor="end" font-size="11">{"".join(labels)}</g>',
    ]


def _edge_labels(edges: Sequence[float], count: int, slot: float, base: float) -> list[str]:
    if len(edges) != count + 1:
        return []
    step = math.ceil((count + 1) / MAX_EDGE_LABELS)
    marks = []
    for index in range(0, count + 1, step):
        x = HIST_LEFT + index * slot
        marks.append(
            f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}" stroke="black"/>'
            f'<text x="{x:.1f}" y="{base + 16:.1f}">{_text(_short(edges[index]))}</text>'
        )
    return [f'<g text-anchor="middle" font-size="11">{"".join(marks)}</g>']


def _category_labels(names: list[str], slot: float, base: float, *, rotated: bool) -> list[str]:
    marks = []
    for index, name in enumerate(names):
        x = HIST_LEFT + (index + 0.5) * slot
        shown = _clip(name, ROTATED_LABEL_CHARS) if rotated else name
        tip = f"<title>{_text(name)}</title>" if shown != name else ""
        if rotated:
            marks.append(
                f'<text x="{x:.1f}" y="{base + 12:.1f}" text-anchor="end" '
                f'transform="rotate(-46 {x:.1f} {base + 12:.1f})">{tip}{_text(shown)}</text>'
            )
        else:
            marks.append(
                f'<text x="{x:.1f}" y="{base + 16:.1f}" text-anchor="middle">'
                f"{tip}{_text(shown)}</text>"
            )
    return [f'<g font-size="11">{"".join(marks)}</g>']


def drift_bars_svg(columns: Sequence[ColumnDrift]) -> str:
    """One horizontal bar per column (in the given order) of :attr:`ColumnDrift.threshold_ratio`,
    a dashed threshold line at 1, drifted bars in red; columns without a verdict show
    their status instead of a bar."""
    ratios = [column.threshold_ratio for column in columns]
    finite = [min(r, BARS_MAX_RATIO) for r in ratios if r is not None]
    ticks = nice_ticks(0.0, max([1.5, *finite]), count=5)
    right = BARS_WIDTH - BARS_RIGHT
    scale = (right - BARS_LABEL) / ticks[-1]
    height = BARS_TOP + max(len(columns), 1) * BARS_ROW + BARS_BOTTOM
    axis_y = height - BARS_BOTTOM
    title = "Drift per column: statistic relative to its threshold"
    parts = [
        *_open(BARS_WIDTH, height, title),
        f'<text x="{BARS_LABEL}" y="20" font-size="14" font-weight="bold">{title}</text>',
        f'<text x="{BARS_LABEL}" y="38" fill="{MUTED}" font-size="11">distances: statistic ÷ '
        "threshold; tests: log p ÷ log threshold; past the dashed line = drifted</text>",
    ]
    grid, labels = [], []
    for tick in ticks:
        x = BARS_LABEL + tick * scale
        grid.append(f'<line x1="{x:.1f}" y1="{BARS_TOP - 4}" x2="{x:.1f}" y2="{axis_y}"/>')
        labels.append(f'<text x="{x:.1f}" y="{axis_y + 16}">{_short(tick)}x</text>')
    parts += [
        f'<g stroke="#e4e4e4">{"".join(grid)}</g>',
        f'<g text-anchor="middle" font-size="11">{"".join(labels)}</g>',
    ]
    for index, (column, ratio) in enumerate(zip(columns, ratios, strict=True)):
        parts.append(_drift_bar(column, ratio, BARS_TOP + index * BARS_ROW, scale, ticks[-1]))
    one = BARS_LABEL + scale
    parts += [
        f'<line x1="{one:.1f}" y1="{BARS_TOP - 8}" x2="{one:.1f}" y2="{axis_y}" '
        f'stroke="{DRIFT_COLOUR}" stroke-dasharray="4 3"/>',
        f'<path d="M{BARS_LABEL},{BARS_TOP - 4} V{axis_y} H{right}" fill="none" stroke="black"/>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _drift_bar(
    column: ColumnDrift, ratio: float | None, top: float, scale: float, end: float
) -> str:
    name = column.column
    shown = _clip(name, BARS_LABEL_CHARS)
    tip = f"<title>{_text(name)}</title>" if shown != name else ""
    label = (
        f'<text x="{BARS_LABEL - 8}" y="{top + 14}" text-anchor="end">{tip}{_text(shown)}</text>'
    )
    if ratio is None:
        status = column.status.replace("_", " ")
        return (
            f'{label}<text x="{BARS_LABEL + 6}" y="{top + 14}" fill="{MUTED}" '
            f'font-style="italic">{_text(status)}</text>'
        )
    colour = DRIFT_COLOUR if column.status == "drift" else NO_DRIFT_COLOUR
    length = min(ratio, end) * scale
    value = (
        f"p={_short(column.p_value)}"
        if column.p_value is not None
        else _short(column.statistic if column.statistic is not None else math.nan)
    )
    detail = f"{value} ({column.method})"
    tip = f"{name}: {detail}, threshold {_short(column.threshold)}, {_short(ratio)}x threshold"
    clipped = ""
    if ratio > end:  # past the axis: an arrow head says the bar goes on
        x = BARS_LABEL + length
        clipped = f'<path d="M{x:.1f},{top + 3} l7,7 l-7,7 Z" fill="{colour}"/>'
        length -= 0.1
    return (
        f'{label}<g fill="{colour}"><title>{_text(tip)}</title>'
        f"{_rect(BARS_LABEL, top + 4, length, BARS_ROW - 8)}{clipped}</g>"
        f'<text x="{BARS_LABEL + length + 10:.1f}" y="{top + 14}" font-size="11">'
        f"{_text(detail)}</text>"
    )


def _hours(moment: datetime, start: datetime) -> float:
    return round((moment - start).total_seconds() / 3600, 3)


def performance_svg(performance: PerformanceResult, *, start: datetime) -> str:
    """One line per metric over the window's hourly points (x: hours since ``start``);
    an hour without a value for a metric breaks that metric's line."""
    names = list(performance.metrics)
    for _, values in performance.over_time:
        names.extend(name for name in values if name not in names)
    series = [
        Series(
            _clip(name, LEGEND_CHARS),
            [
                (_hours(moment, start), _value(values.get(name)))
                for moment, values in performance.over_time
            ],
        )
        for name in names
    ]
    return render_svg(series, title="Performance per hour", x_label="hours since window start")


def _value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def drift_share_history_svg(windows: Sequence[MonitoringResult]) -> str:
    """The share of drifted input columns per window (1 = oldest) and its threshold."""
    points = list(enumerate(windows, start=1))
    return render_svg(
        [
            Series("drift share", [(x, window.drift_share) for x, window in points]),
            Series("threshold", [(x, window.drift_share_threshold) for x, window in points]),
        ],
        title="Share of drifted input columns per window",
        x_label="window (1 = oldest)",
    )


def column_history_svg(windows: Sequence[MonitoringResult], columns: Sequence[str]) -> str:
    """Each named column's :attr:`ColumnDrift.threshold_ratio` per window (1 = oldest);
    a window where the column had no verdict breaks its line."""
    series = []
    for name in columns[:HISTORY_COLUMNS]:
        points = []
        for x, window in enumerate(windows, start=1):
            found = next((c for c in window.columns if c.column == name), None)
            ratio = found.threshold_ratio if found is not None else None
            points.append((x, math.nan if ratio is None else ratio))
        series.append(Series(_clip(name, LEGEND_CHARS), points))
    series.append(Series("threshold", [(x, 1.0) for x in range(1, len(windows) + 1)]))
    return render_svg(
        series,
        title="Most drifted columns: statistic relative to threshold",
        x_label="window (1 = oldest)",
    )
