"""``shipyard monitor``: drift and performance of a served model, and the policy's actions.

``shipyard monitor MODEL`` checks a window; ``shipyard monitor history MODEL`` charts
the windows checked so far. The first word picks the command, so a model named
``history`` is written ``models:/history``.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from shipyard.cli._options import EnvOption, QuietOption, command_group
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from shipyard.monitoring import Check, MonitoringResult

__all__ = ["app"]


class _CheckByDefault(TyperGroup):
    """``shipyard monitor MODEL ...`` means ``shipyard monitor check MODEL ...``."""

    def resolve_command(
        self, ctx: typer.Context, args: list[str]
    ) -> tuple[str | None, Any, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["check", *args]
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: typer.Context, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, "MODEL [OPTIONS] | history MODEL [OPTIONS]")


app = command_group(
    "Measure drift and performance of a served model against its training profile, "
    "and run the actions of conf/base/monitoring.yml (alert, retrain, evaluate, promote). "
    "`shipyard monitor MODEL --help` shows the options of a check.",
    cls=_CheckByDefault,
)

ModelArgument = Annotated[
    str,
    typer.Argument(
        metavar="MODEL",
        help="The registered model: churn@champion, models:/churn@champion, churn:3.",
        show_default=False,
    ),
]


@app.command("check")
def check(
    model: ModelArgument,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            "-w",
            metavar="DURATION",
            help="The window ending now: 90m, 24h, 7d. Default: window in monitoring.yml.",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Window start, ISO 8601: 2026-11-28T08:00 (UTC), or with +01:00 or Z.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="TIME",
            help="Window end (exclusive), ISO 8601. Default: now.",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", metavar="FILE.html", help="Write the HTML report here.", show_default=False
        ),
    ] = None,
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE",
            help="Write the result as JSON here ('-': stdout).",
            show_default=False,
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep checking one window per --every until Ctrl-C."),
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="DURATION",
            help="With --watch/--once: the schedule. Default: every in monitoring.yml.",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Check the windows due now on the schedule, then exit "
            "(for cron or a Kubernetes CronJob).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Analyse and report only: store nothing, run no action."),
    ] = False,
    no_actions: Annotated[
        bool, typer.Option("--no-actions", help="Store the result but run no action.")
    ] = False,
    env: EnvOption = None,
    quiet: QuietOption = False,
) -> None:
    """Compare a window of MODEL's prediction log with the reference profile in its package.

    Each input column is tested for drift (the method per column follows its type and
    monitoring.yml), predictions too, and performance is measured where ground truth came
    back through /v1/feedback. When the inputs drifted or performance degraded, the
    actions of monitoring.yml run in order. The result is stored; `shipyard monitor
    history MODEL` charts them (docs/monitoring.md).
    """
    from dataclasses import replace

    from shipyard.monitoring import Monitor, parse_duration
    from shipyard.monitoring._schedule import run_due, stop_on_signals
    from shipyard.monitoring._schedule import watch as watch_loop

    if (watch or once) and (since or until or window or dry_run):
        raise typer.BadParameter(
            "--watch and --once check the windows of the schedule; leave out "
            "--since, --until, --window and --dry-run."
        )
    monitor = Monitor.for_project(model, env=env)
    if every is not None:
        monitor.config = replace(monitor.config, every=parse_duration(every, where="--every"))
    monitor.target()  # a wrong reference or a missing profile fails now, not in the loop
    if watch or once:
        if once:
            checks = run_due(monitor)
            for item in checks:
                _show(item, quiet=quiet)
            if not checks:
                say("No window is due: the newest one was checked already.")
            return
        import threading

        say(f"Watching {model}: one window per {_duration(monitor.config.every)}; Ctrl-C stops.")
        with stop_on_signals(threading.Event()) as stop:
            count = watch_loop(monitor, stop, on_check=lambda item: _show(item, quiet=quiet))
        say(f"Stopped after {count} window(s).")
        return
    end = _moment(until, "--until") if until else datetime.now(UTC)
    length = parse_duration(window, where="--window") if window else monitor.config.window
    start = _moment(since, "--since") if since else end - length
    if dry_run:
        from shipyard.monitoring import Check as CheckResult

        item = CheckResult(result=monitor.analyse(start, end))
    else:
        item = _checking(monitor, start, end, act=not no_actions, quiet=quiet)
    # with --json -, stdout holds the JSON document and nothing else
    _show(item, quiet=quiet or json_file == "-")
    _write_outputs(item.result, monitor, report=report, json_file=json_file)


@app.command("history")
def history(
    model: ModelArgument,
    feature: Annotated[
        str | None,
        typer.Option(
            "--feature",
            "-f",
            metavar="COLUMN",
            help="Chart this column's drift statistic instead of the drifted share.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The chart: .svg or .html. Default: .shipyard/plots/drift-MODEL.svg",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the windows as one JSON document on stdout.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Drift of MODEL over the windows checked so far, as a table and a chart."""
    from shipyard.metadata import monitoring as repo
    from shipyard.monitoring import Monitor
    from shipyard.tracking._chart import Series, html_page, render_svg

    monitor = Monitor.for_project(model, env=env)
    with monitor.registry.store.begin() as conn:
        windows = repo.list_windows(conn, monitor.name)
        points = repo.column_history(conn, monitor.name, column=feature) if feature else []
    if feature and not points:
        from shipyard.errors import MonitoringError

        raise MonitoringError(
            f"No checked window of {monitor.name} has a column '{feature}'.",
            hint=f"`shipyard monitor history {model}` lists the windows; check the "
            "column's name in the model's signature.",
        )
    if as_json:
        rows: list[dict[str, Any]] = (
            [_point_dict(point) for point in points]
            if feature
            else [_window_dict(window) for window in windows]
        )
        emit_json("windows", rows)
        return
    if feature:
        print_table(
            f"{monitor.name}: {feature} by window",
            ["window end (UTC)", "method", "statistic", "p-value", "threshold", "status"],
            [
                (
                    f"{p.window_end:%Y-%m-%d %H:%M}",
                    p.method,
                    _number(p.statistic),
                    _number(p.p_value),
                    _number(p.threshold),
                    p.status,
                )
                for p in points
            ],
        )
        first = points[0].window_end
        series = [
            Series(feature, [(_hours(p.window_end, first), _or_nan(p.statistic)) for p in points])
        ]
        title = f"{monitor.name}: {feature} drift statistic by window"
    else:
        print_table(
            f"{monitor.name}: checked windows",
            ["window end (UTC)", "version", "rows", "drifted share", "status"],
            [
                (
                    f"{w.window_end:%Y-%m-%d %H:%M}",
                    w.version,
                    f"{w.rows:,}",
                    f"{w.drift_share:.0%}",
                    w.status,
                )
                for w in windows
            ],
        )
        first = windows[0].window_end if windows else datetime.now(UTC)
        series = [
            Series("drifted share", [(_hours(w.window_end, first), w.drift_share) for w in windows])
        ]
        title = f"{monitor.name}: share of drifted input columns by window"
    if not windows:
        say(f"No window of {monitor.name} was checked yet: run `shipyard monitor {model}`.")
        return
    svg = render_svg(series, title=title, x_label=f"hours after {first:%Y-%m-%d %H:%M} UTC")
    if output is None:
        output = monitor.session.settings.shipyard_dir / "plots" / f"drift-{monitor.name}.svg"
    output.parent.mkdir(parents=True, exist_ok=True)
    text = html_page(svg, title=title) if output.suffix.lower() == ".html" else svg
    output.write_text(text, encoding="utf-8")
    say(f"chart: {output}")


# --- helpers ------------------------------------------------------------------------


def _checking(monitor: Any, start: datetime, end: datetime, *, act: bool, quiet: bool) -> Check:
    if quiet:
        return monitor.check(start, end, act=act)
    from rich.console import Console

    with Console(stderr=True).status(
        f"Checking {monitor.name} from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC..."
    ):
        return monitor.check(start, end, act=act)


def _show(item: Check, *, quiet: bool) -> None:
    result = item.result
    badge = {
        "ok": "[green]no drift[/green]",
        "drift": "[red]drift[/red]",
        "not_enough_data": "[yellow]not enough data[/yellow]",
    }[result.status]
    say(
        f"{result.model} v{result.version}, {result.window_start:%Y-%m-%d %H:%M} to "
        f"{result.window_end:%Y-%m-%d %H:%M} UTC: {result.rows:,} rows, {badge}; "
        f"{len(result.drifted_columns)} of {len(result.columns)} input columns drifted "
        f"({result.drift_share:.0%}, threshold {result.drift_share_threshold:.0%})"
        + (" [dim](checked before)[/dim]" if item.stored else "")
    )
    for warning in result.warnings:
        say(f"[yellow]warning:[/yellow] {warning}")
    if quiet:
        return
    print_table(
        "Input columns, most drifted first",
        ["column", "method", "statistic", "p-value", "threshold", "status", "rows"],
        [
            (
                c.column,
                c.method,
                _number(c.statistic),
                _number(c.p_value),
                _number(c.threshold),
                c.status,
                f"{c.current_rows:,}",
            )
            for c in result.sorted_columns()
        ],
    )
    if result.predictions:
        print_table(
            "Predictions",
            ["output", "method", "statistic", "p-value", "status"],
            [
                (c.column, c.method, _number(c.statistic), _number(c.p_value), c.status)
                for c in result.predictions
            ],
        )
    performance = result.performance
    if performance is not None and not performance.metrics:
        say(
            f"performance: {performance.labelled_rows:,} labelled rows, too few for a verdict "
            "(ground truth comes back through POST /v1/feedback)"
        )
    elif performance is not None:
        print_table(
            f"Performance on {performance.labelled_rows:,} labelled rows ({performance.status})",
            ["metric", "value", "95% interval", "baseline", "degraded"],
            [
                (
                    name,
                    _number(e.value),
                    f"{_number(e.low)} .. {_number(e.high)}",
                    _number(performance.baseline.get(name)),
                    "yes" if name in performance.degraded else "",
                )
                for name, e in performance.metrics.items()
            ],
        )
    if item.actions:
        print_table(
            "Actions" + (f" (triggered by {', '.join(item.triggers)})" if item.triggers else ""),
            ["action", "status", "run", "details"],
            [(a.kind, a.status, a.run_id or "", _details(a)) for a in item.actions],
        )


def _write_outputs(
    result: MonitoringResult, monitor: Any, *, report: Path | None, json_file: str | None
) -> None:
    from shipyard.monitoring._report import report_json, write_report

    if report is not None:
        write_report(result, report, history=monitor.history(limit=30) if result.id else ())
        say(f"report: {report}")
    if json_file == "-":
        sys.stdout.write(report_json(result) + "\n")
    elif json_file is not None:
        write_report(result, Path(json_file))
        say(f"json: {json_file}")


def _details(action: Any) -> str:
    if action.error:
        return action.error
    details = dict(action.details or {})
    details.pop("run_id", None)
    return ", ".join(f"{key}={value}" for key, value in details.items())


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _or_nan(value: float | None) -> float:
    """A point of a chart: NaN (a gap in the line) for a window without a statistic."""
    return math.nan if value is None else value


def _hours(moment: datetime, start: datetime) -> float:
    return (moment - start).total_seconds() / 3600


def _window_dict(window: Any) -> dict[str, Any]:
    return {
        "id": window.id,
        "model": window.model,
        "version": window.version,
        "window_start": window.window_start.isoformat(),
        "window_end": window.window_end.isoformat(),
        "rows": window.rows,
        "status": window.status,
        "drift_share": window.drift_share,
        "dataset_drift": window.dataset_drift,
    }


def _point_dict(point: Any) -> dict[str, Any]:
    return {
        "window_id": point.window_id,
        "window_start": point.window_start.isoformat(),
        "window_end": point.window_end.isoformat(),
        "column": point.column,
        "method": point.method,
        "statistic": point.statistic,
        "p_value": point.p_value,
        "threshold": point.threshold,
        "status": point.status,
    }


def _duration(delta: Any) -> str:
    from shipyard.monitoring._config import format_duration

    return format_duration(delta)


def _moment(text: str, option: str) -> datetime:
    """An ISO 8601 time of an option, in UTC (a time without an offset is UTC)."""
    from shipyard.data._log_layout import as_utc

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time; write e.g. 2026-11-28, 2026-11-28T08:00 or "
            "2026-11-28T08:00:00+01:00.",
            param_hint=option,
        ) from None
    return as_utc(moment)
