"""The drift report of one monitoring window: a single HTML file that opens offline, or JSON.

The HTML page is one self-contained file: inline CSS, inline SVG plots
(:mod:`shipyard.monitoring._plots`), no script, and no URL of any kind, so it opens the
same from a laptop, a CI artifact or an air-gapped server, and viewing it tells no third
party that a model drifted. Every piece of text that came from users or data (model,
column and category names, warnings, file names) is HTML-escaped.

The JSON report is :meth:`MonitoringResult.to_dict` as strict JSON, which
:meth:`MonitoringResult.from_dict` reads back. Both are written whole or not at all::

    write_report(result, Path("reports/churn-2024-05-01.html"), history=earlier_windows)
    write_report(result, Path("reports/churn-2024-05-01.json"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from shipyard.__about__ import __version__
from shipyard.errors import MonitoringError
from shipyard.monitoring import _plots
from shipyard.monitoring._config import format_duration
from shipyard.monitoring._result import ColumnDrift, MonitoringResult, PerformanceResult

__all__ = ["render_html", "report_json", "write_report"]

#: Shown in the new-categories cell before "+N more" (the tooltip lists them all).
NEW_CATEGORIES_SHOWN = 5
_STATUS_TEXT = {"not_enough_data": "not enough data"}
_SVG_NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;
max-width:1180px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:22px;margin:12px 0 4px}h2{font-size:18px;margin:32px 0 10px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fdf0f0}.muted{color:#777;font-size:12px}
.badge{display:inline-block;padding:0 8px;border-radius:9px;font-size:12px;
font-weight:600;color:#fff;white-space:nowrap}
.s-ok{background:#3f8f3a}.s-drift,.s-degraded{background:#c9363a}
.s-not_enough_data{background:#888}.s-missing,.s-empty{background:#b8760a}
dl{display:grid;grid-template-columns:max-content auto;gap:3px 18px;margin:8px 0}
dt{color:#555}dd{margin:0}
.notes{background:#fff7e6;border-left:4px solid #b8760a;padding:6px 12px;margin:10px 0}
.notes ul{margin:4px 0;padding-left:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:14px}
figure{margin:0;border:1px solid #eee;padding:6px}figcaption{font-size:12px;color:#444}
svg{max-width:100%;height:auto}
"""


def render_html(result: MonitoringResult, *, history: Sequence[MonitoringResult] = ()) -> str:
    """The report page of ``result``; ``history`` (earlier windows of the same model,
    oldest first) adds charts of drift across windows."""
    title = f"Drift report: {result.model}" + _version(result)
    sections = [
        _summary(result),
        _drift_section(result),
    ]
    if result.predictions:
        sections.append(_predictions(result))
    if result.performance is not None:
        sections.append(_performance(result.performance, result.window_start))
    if history:
        sections.append(_history(result, history))
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: without it the browser asks the server for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)} {_badge(result.status)}</h1>\n{body}\n"
        f'<p class="muted">Written by Shipyard {escape(__version__)}.</p>\n</body>\n</html>\n'
    )


def report_json(result: MonitoringResult) -> str:
    """``result`` as strict JSON text (NaN and inf become null), indented.

    Keys keep the dataclasses' field order rather than being sorted: that order is
    already fixed, so two reports still diff line by line, it reads top-down (model,
    window, columns...), and mappings such as the metrics keep the policy's order, which
    the HTML page shows.
    """
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_report(
    result: MonitoringResult, path: Path, *, history: Sequence[MonitoringResult] = ()
) -> Path:
    """Write the report to ``path``: HTML for ``.html``/``.htm``, JSON for ``.json``
    (which has no use for ``history``). Returns ``path``.

    The file is written to a temporary file in the same folder and moved into place, so
    a failed or killed write leaves the previous report whole and no partial file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text = render_html(result, history=history)
    elif suffix == ".json":
        text = report_json(result)
    else:
        raise MonitoringError(
            f"Cannot write a report to '{path}': unknown file type '{path.suffix or '(none)'}'.",
            hint="Name the report file *.html for the page or *.json for the data.",
        )
    # Imported here: the data package is only needed once a report is written.
    from shipyard.data._paths import write_text

    try:
        write_text(path, text)
    except OSError as exc:
        raise MonitoringError(
            f"Cannot write the report to '{path}': {exc.strerror or exc}.",
            hint="Choose a path in a folder you can write to (and not below a file); "
            "any previous report there was left unchanged.",
        ) from exc
    return path


# --- summary ---------------------------------------------------------------------------


def _summary(result: MonitoringResult) -> str:
    compared = [c for c in result.columns if c.drifted is not None]
    drifted = [c for c in compared if c.drifted]
    rows = [
        ("Model", escape(result.model)),
        ("Version", escape(str(result.version)) if result.version is not None else "—"),
        ("Window (UTC)", _window(result.window_start, result.window_end)),
        ("Rows", f"{result.rows:,}"),
        ("Status", _badge(result.status)),
        (
            "Drifted input columns",
            f"{len(drifted)} of {len(compared)} compared ({_pct(result.drift_share)}); "
            f"dataset drift from {_pct(result.drift_share_threshold)}"
            + (" — <b>reached</b>" if result.dataset_drift else ""),
        ),
    ]
    if len(compared) < len(result.columns):
        rows.append(("Without a verdict", f"{len(result.columns) - len(compared)} columns"))
    if result.performance is not None:
        rows.append(("Performance", _badge(result.performance.status)))
    took = f" in {result.duration_s:.2f} s" if result.duration_s else ""
    rows.append(("Computed at", f"{_utc(result.computed_at, seconds=True)} UTC{took}"))
    if result.id:
        rows.append(("Result id", f"<code>{escape(result.id)}</code>"))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<section id="summary">\n<dl>{items}</dl>\n{_notes(result)}</section>'


def _notes(result: MonitoringResult) -> str:
    parts = []
    for heading, items in (("Warnings", result.warnings), ("Skipped files", result.skipped_files)):
        if items:
            entries = "".join(f"<li>{escape(item)}</li>" for item in items)
            parts.append(f'<div class="notes"><b>{heading}</b><ul>{entries}</ul></div>\n')
    return "".join(parts)


# --- drift -----------------------------------------------------------------------------


def _drift_section(result: MonitoringResult) -> str:
    columns = result.sorted_columns()
    if not columns:
        return '<h2>Input drift</h2>\n<p class="muted">The profile has no input columns.</p>'
    plots = _distributions(columns, "c")
    return (
        f"<h2>Input drift</h2>\n{_inline(_plots.drift_bars_svg(columns))}\n"
        f"<h3>Input columns, most drifted first</h3>\n{_column_table(columns, 'c')}\n"
        + (f"<h3>Distributions: reference and current</h3>\n{plots}" if plots else "")
    )


def _column_table(columns: Sequence[ColumnDrift], anchor: str) -> str:
    head = (
        "<tr><th>Column</th><th>Kind</th><th>Method</th><th class=n>Statistic</th>"
        "<th class=n>p-value</th><th class=n>Threshold</th><th>Status</th>"
        "<th class=n>Current rows</th><th class=n>Nulls</th><th>New categories</th></tr>"
    )
    rows = []
    for index, column in enumerate(columns):
        name = escape(column.column)
        if column.histogram is not None:  # a link down to its plot
            name = f'<a href="#{anchor}{index}">{name}</a>'
        note = f'<br><span class="muted">{escape(column.message)}</span>' if column.message else ""
        rows.append(
            f'<tr class="{escape(column.status)}"><td>{name}</td><td>{escape(column.kind)}</td>'
            f"<td>{escape(column.method)}</td><td class=n>{_num(column.statistic)}</td>"
            f"<td class=n>{_num(column.p_value, 3)}</td><td class=n>{_num(column.threshold)}</td>"
            f"<td>{_badge(column.status)}{note}</td><td class=n>{column.current_rows:,}</td>"
            f"<td class=n>{column.current_nulls:,}</td><td>{_categories(column)}</td></tr>"
        )
    return f"<table>\n{head}\n" + "\n".join(rows) + "\n</table>"


def _categories(column: ColumnDrift) -> str:
    new = column.new_categories
    if not new:
        return ""
    shown = ", ".join(escape(label) for label in new[:NEW_CATEGORIES_SHOWN])
    more = len(new) - NEW_CATEGORIES_SHOWN
    if more <= 0:
        return shown
    return f'<span title="{escape(", ".join(new))}">{shown} +{more} more</span>'


def _distributions(columns: Sequence[ColumnDrift], anchor: str) -> str:
    """Reference-vs-current plots of the columns that have a histogram, in the given
    order (most drifted first); the anchors are what :func:`_column_table` links to."""
    figures = []
    for index, column in enumerate(columns):
        if column.histogram is None:
            continue
        svg = _plots.histogram_svg(column.histogram, title=column.column)
        if column.p_value is not None:
            value = f"p-value {_num(column.p_value, 3)}"
        else:
            value = f"statistic {_num(column.statistic)}"
        caption = (
            f"{_badge(column.status)} {escape(column.method)} {value}, threshold "
            f"{_num(column.threshold)}; {column.current_rows:,} current rows, "
            f"{column.reference_rows:,} reference rows"
        )
        figures.append(
            f'<figure id="{anchor}{index}">{_inline(svg)}'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return '<div class="grid">\n' + "\n".join(figures) + "\n</div>" if figures else ""


def _predictions(result: MonitoringResult) -> str:
    columns = sorted(result.predictions, key=lambda c: (-c.score, c.column))
    return f"<h2>Predictions</h2>\n{_column_table(columns, 'p')}\n{_distributions(columns, 'p')}"


# --- performance -----------------------------------------------------------------------


def _performance(performance: PerformanceResult, start: datetime) -> str:
    head = (
        "<tr><th>Metric</th><th class=n>Value</th><th class=n>Confidence interval</th>"
        "<th class=n>n</th><th class=n>Baseline</th><th class=n>Change</th><th>Status</th></tr>"
    )
    rows = []
    for name, estimate in performance.metrics.items():
        baseline = performance.baseline.get(name)
        change = estimate.value - baseline if baseline is not None else None
        degraded = name in performance.degraded
        rows.append(
            f'<tr class="{"drift" if degraded else ""}"><td>{escape(name)}</td>'
            f"<td class=n>{_num(estimate.value)}</td>"
            f"<td class=n>[{_num(estimate.low)}, {_num(estimate.high)}]</td>"
            f"<td class=n>{estimate.n:,}</td><td class=n>{_num(baseline)}</td>"
            f"<td class=n>{_signed(change)}</td>"
            f"<td>{_badge('degraded' if degraded else 'ok')}</td></tr>"
        )
    parts = [
        f"<h2>Performance {_badge(performance.status)}</h2>",
        f"<p>{escape(performance.task)} model, {performance.labelled_rows:,} rows with ground "
        "truth in the window.</p>",
    ]
    if rows:
        parts.append(f"<table>\n{head}\n" + "\n".join(rows) + "\n</table>")
    if len(performance.over_time) >= 2:
        parts.append(_inline(_plots.performance_svg(performance, start=start)))
    return "\n".join(parts)


# --- history ---------------------------------------------------------------------------


def _history(result: MonitoringResult, history: Sequence[MonitoringResult]) -> str:
    earlier = [window for window in history if not _same_window(window, result)]
    windows = sorted([*earlier, result], key=lambda window: window.window_start)
    top = result.drifted_columns or [
        c.column for c in result.sorted_columns() if c.drifted is not None
    ]
    rows = "\n".join(
        f"<tr><td class=n>{number}</td><td>{_window(w.window_start, w.window_end)}</td>"
        f"<td class=n>{w.rows:,}</td><td>{_badge(w.status)}</td>"
        f"<td class=n>{_pct(w.drift_share)}</td><td>{len(w.drifted_columns)}</td></tr>"
        for number, w in enumerate(windows, start=1)
    )
    parts = [
        f"<h2>History ({len(windows)} windows)</h2>",
        '<div class="grid">',
        _inline(_plots.drift_share_history_svg(windows)),
    ]
    if top:
        parts.append(_inline(_plots.column_history_svg(windows, top)))
    parts += [
        "</div>",
        "<table>\n<tr><th class=n>#</th><th>Window (UTC)</th><th class=n>Rows</th>"
        "<th>Status</th><th class=n>Drift share</th><th>Drifted columns</th></tr>",
        rows,
        "</table>",
    ]
    return "\n".join(parts)


def _same_window(one: MonitoringResult, other: MonitoringResult) -> bool:
    if one.id is not None and other.id is not None:
        return one.id == other.id
    return (one.window_start, one.window_end, one.computed_at) == (
        other.window_start,
        other.window_end,
        other.computed_at,
    )


# --- formatting ------------------------------------------------------------------------


def _inline(svg: str) -> str:
    # An <svg> inside HTML is in the SVG namespace without saying so; dropping the
    # attribute leaves the page without a single URL-looking string.
    return svg.replace(_SVG_NAMESPACE, "", 1).strip()


def _badge(status: str) -> str:
    text = _STATUS_TEXT.get(status, status)
    return f'<span class="badge s-{escape(status)}">{escape(text)}</span>'


def _version(result: MonitoringResult) -> str:
    return f" v{result.version}" if result.version is not None else ""


def _utc(moment: datetime, *, seconds: bool = False) -> str:
    # Naive datetimes are UTC already: Shipyard records every moment in UTC.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _window(start: datetime, end: datetime) -> str:
    exact = bool(start.second or end.second)  # an ad-hoc window: show its seconds
    length = format_duration(timedelta(seconds=max(round((end - start).total_seconds()), 1)))
    return f"{_utc(start, seconds=exact)} → {_utc(end, seconds=exact)} ({length})"


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}g}"


def _signed(value: float | None) -> str:
    return _num(value) if value is None or value < 0 else "+" + _num(value)


def _pct(share: float) -> str:
    return f"{share:.1%}" if math.isfinite(share) else "—"
