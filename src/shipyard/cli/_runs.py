"""``shipyard runs ...``: the tracked runs of the project (or of ``$SHIPYARD_DB``).

``list`` filters and sorts runs with the filter language of docs/metadata.md; ``show``
prints everything recorded about one run; ``compare`` puts runs side by side, ``diff``
says what changed between two, ``plot`` charts a metric's history (docs/tracking.md).
A run left ``running`` by a process that is gone is shown as ``lost``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import JsonOption, command_group
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata import MetadataStore
    from shipyard.metadata.runs import RunRecord

__all__ = ["app"]

app = command_group(
    "Tracked runs: list them (filtered and sorted by params, metrics, tags), show one, "
    "compare or diff them, plot a metric."
)

#: Metrics shown in the list's table, per run; --json has them all.
KEY_METRICS = 3
STATUSES = ("running", "finished", "failed", "interrupted", "lost")


@app.command("list")
def list_runs(
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-p", help="Only runs of this pipeline.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help=f"Only runs with this status: {', '.join(STATUSES)}.", metavar="S"
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            "-w",
            help="Filter: \"metrics.auc > 0.8 and params.model.C = 0.5 and tags.team = 'ds'\" "
            "(docs/metadata.md).",
            metavar="EXPR",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            "-s",
            help="Sort key: metrics.auc, params.x, started_at; a leading - sorts descending. "
            "Default: -started_at (newest first).",
            metavar="KEY",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List tracked runs, newest first: id, started, status, pipeline, duration, metrics."""
    from shipyard.metadata import metrics, runs

    _check_status(status)
    store = _store()
    with store.connect() as conn:
        # `lost` is not stored: it is a `running` run whose process is gone.
        stored_status = "running" if status == "lost" else status
        found = runs.search(
            conn, where=where, sort=sort, pipeline=pipeline, status=stored_status, limit=limit
        )
        latest = metrics.latest_of(conn, [record.id for record in found])
        rows = [(record, _status(record), latest[record.id]) for record in found]
    if status is not None:
        rows = [row for row in rows if row[1] == status]
    if as_json:
        emit_json(
            "runs",
            [
                {**record.to_dict(), "status": shown, "metrics": _plain_numbers(values)}
                for record, shown, values in rows
            ],
        )
        return
    if not rows:
        say(f"No runs in {store.url}" + (" match." if where or pipeline or status else " yet."))
        return
    print_table(
        f"Runs in {store.url}",
        ["id", "started (UTC)", "status", "pipeline", "duration", "metrics"],
        [
            (
                record.id,
                _time(record.started_at),
                shown,
                record.pipeline or record.name or "",
                _duration(record),
                ", ".join(f"{k}={_number(v)}" for k, v in list(values.items())[:KEY_METRICS])
                + (" …" if len(values) > KEY_METRICS else ""),
            )
            for record, shown, values in rows
        ],
    )


@app.command("show")
def show(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix (4+ characters).")],
    as_json: JsonOption = False,
) -> None:
    """Everything recorded about a run: params, metrics, data versions read and written,
    git state, environment, node timings (cache hits included), artifacts."""
    store = _store()
    with store.connect() as conn:
        described = _describe(conn, run)
    if as_json:
        emit_json("run", described)
        return
    _print_run(described)


@app.command("artifact")
def artifact(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix (4+ characters).")],
    name: Annotated[str, typer.Argument(help="The artifact's name (`runs show RUN` lists them).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write it. Default: its name, in the current folder.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a file already at the output path.")
    ] = False,
) -> None:
    """Write a run's artifact (a file, or a folder) out of the object store: the executed
    notebook of `shipyard notebook run` is artifact notebook.ipynb."""
    from shipyard.errors import ProjectError, TrackingError, did_you_mean
    from shipyard.metadata import artifacts, runs
    from shipyard.objects import Digest, ObjectStore
    from shipyard.settings import project_root_here

    store = _store()
    with store.connect() as conn:
        record = runs.get(conn, run)
        kept = {item["name"]: item for item in artifacts.of_run(conn, record.id)}
    if name not in kept:
        names = ", ".join(sorted(kept)) or "none"
        raise TrackingError(
            f"Run {record.id} has no artifact '{name}'.{did_you_mean(name, kept)}",
            hint=f"Its artifacts: {names} (`shipyard runs show {record.id}`).",
        )
    root = project_root_here()
    if root is None:
        raise ProjectError(
            f"The artifacts of run {record.id} are in its project's object store, and there "
            f"is no project at or above {Path.cwd()}.",
            hint="Run the command inside the project the run was made in.",
        )
    # The name comes from the store: only its last part is used, never a path it spells.
    target = output if output is not None else Path(Path(name).name)
    if target.exists() and not (force and target.is_file()):
        raise TrackingError(
            f"{target} already exists: the artifact was not written.",
            hint="Choose another path with --output"
            + (", or pass --force to replace the file." if target.is_file() else "."),
        )
    objects = ObjectStore(root / ".shipyard" / "objects", verify_on_read=True)
    digest = Digest.parse(kept[name]["digest"])
    if kept[name]["kind"] == "tree":
        objects.checkout_tree_once(digest, target, link=False)
    else:
        objects.get_file(digest, target, link=False)
    say(f"[green]✓[/green] Artifact '{name}' of run {record.id} written to {target}")


@app.command("compare")
def compare(
    refs: Annotated[
        list[str], typer.Argument(help="Two or more run ids or unique prefixes.", metavar="RUN...")
    ],
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Also show the rows whose values are equal.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Runs side by side: status, pipeline, duration, git commit, every param and latest
    metric. Rows that differ come first, highlighted; equal rows are hidden unless --all."""
    from rich.console import Console
    from rich.table import Table

    from shipyard.tracking._compare import compare_runs, short_ids

    store = _store()
    with store.connect() as conn:
        comparison = compare_runs(conn, refs)
    if as_json:
        emit_json(
            "compare",
            {
                "runs": [record.id for record in comparison.runs],
                "rows": [
                    {
                        "key": row.key,
                        "values": [_json_value(v) for v in row.values],
                        "differs": row.differs,
                    }
                    for row in comparison.rows
                ],
            },
        )
        return
    shown = [row for row in comparison.rows if show_all or row.differs]
    hidden = len(comparison.rows) - len(shown)
    table = Table(
        title=f"{len(comparison.runs)} runs compared", title_justify="left", header_style="bold"
    )
    table.add_column("")
    labels = short_ids([record.id for record in comparison.runs])
    for label, record in zip(labels, comparison.runs, strict=True):
        table.add_column(f"{label}\n{_time(record.started_at)}", overflow="fold")
    for row in shown:
        table.add_row(
            "duration" if row.key == "duration_s" else row.key,
            *(_cell(row.key, value) for value in row.values),
            style="bold yellow" if row.differs else None,
        )
    Console(highlight=False).print(table)
    if hidden:
        say(f"{hidden} equal row{'s' if hidden != 1 else ''} hidden: --all shows them.")


@app.command("diff")
def diff(
    run_a: Annotated[str, typer.Argument(help="The run to compare from (id or prefix).")],
    run_b: Annotated[str, typer.Argument(help="The run to compare to (id or prefix).")],
    as_json: JsonOption = False,
) -> None:
    """What changed from RUN_A to RUN_B: params, metrics (with the delta), data versions read
    and written, code (git), Python and packages. Exit code 0 either way."""
    from shipyard.tracking._compare import diff_runs, short_ids

    store = _store()
    with store.connect() as conn:
        changes = diff_runs(conn, run_a, run_b)
    if as_json:
        emit_json(
            "diff",
            {"runs": [changes.old.id, changes.new.id], **_json_value(changes.to_dict())},
        )
        return
    old, new = changes.old.id, changes.new.id
    if changes.identical:
        say(f"No differences between runs {old} and {new}.")
        return
    say(f"What changed from run {old} (A) to run {new} (B):")
    short_old, short_new = short_ids([old, new])
    columns = ["change", "key", f"A {short_old}", f"B {short_new}"]
    groups = (
        ("params", "Params"),
        ("metrics", "Metrics (latest)"),
        ("inputs", "Data read (dataset: version)"),
        ("outputs", "Data written (dataset: version)"),
        ("code", "Code (git)"),
        ("environment", "Environment"),
        ("packages", "Packages"),
    )
    for group, title in groups:
        rows = _diff_rows(group, getattr(changes, group))
        if rows:
            print_table(title, columns, rows)


@app.command("plot")
def plot(
    refs: Annotated[
        list[str], typer.Argument(help="One or more run ids or unique prefixes.", metavar="RUN...")
    ],
    metric: Annotated[
        str, typer.Option("--metric", "-m", help="The metric to chart, by key (val/loss).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write: .svg, or .html for a page around the chart. "
            "Default: .shipyard/plots/<metric>-<first run id>.svg",
        ),
    ] = None,
    open_file: Annotated[
        bool, typer.Option("--open", help="Open the chart with the default viewer.")
    ] = False,
) -> None:
    """Chart a metric's history (value by step), one line per run, as an SVG or HTML file."""
    from shipyard.tracking._chart import Series, html_page, render_svg
    from shipyard.tracking._compare import metric_histories, resolve_runs, short_ids

    if output is not None:
        _check_plot_suffix(output)
    store = _store()
    with store.connect() as conn:
        records = resolve_runs(conn, refs, at_least=1)
        histories = metric_histories(conn, records, metric)
    for record in records:
        if record.id not in histories:
            say(f"Run {record.id} has no metric '{metric}': not in the chart.")
    series = [
        Series(label, [(point.step, point.value) for point in points])
        for label, points in zip(short_ids(list(histories)), histories.values(), strict=True)
    ]
    title = f"{metric} by step"
    svg = render_svg(series, title=title)
    if output is None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", metric).strip("._") or "metric"
        from shipyard.settings import project_root_here

        plots = (project_root_here() or Path.cwd()) / ".shipyard" / "plots"
        output = plots / f"{safe}-{records[0].id}.svg"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        html_page(svg, title=title) if output.suffix.lower() == ".html" else svg,
        encoding="utf-8",
    )
    typer.echo(str(output))
    if open_file:
        import webbrowser

        if not webbrowser.open(output.resolve().as_uri()):
            say(f"No viewer could be started here; open {output} yourself.")


PLOT_SUFFIXES = (".svg", ".html")


def _check_plot_suffix(output: Path) -> None:
    if output.suffix.lower() not in PLOT_SUFFIXES:
        from shipyard.errors import ConfigError

        raise ConfigError(
            f"--output {output}: charts are written as {' or '.join(PLOT_SUFFIXES)}, "
            f"not '{output.suffix or 'no suffix'}'.",
            hint=f"Name the file with {' or '.join(PLOT_SUFFIXES)}: --output {output.stem}.svg",
        )


def _cell(key: str, value: Any) -> str:
    """A compared value as text: durations readable, metrics in 6 digits, '-' for none."""
    if value is None:
        return "-"
    if key == "duration_s":
        return _format_seconds(value)
    if key == "git_commit":
        return value[:12]
    if key.startswith("metrics."):
        return _number(value)
    return value if isinstance(value, str) else json.dumps(value)


def _diff_rows(group: str, changes: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Table rows of one group of a diff: (change, key, A's value, B's value)."""
    if group in ("code", "environment"):
        return [
            ("changed", key, _diff_cell(group, change["old"]), _diff_cell(group, change["new"]))
            for key, change in changes.items()
        ]
    rows = []
    for key, change in changes["changed"].items():
        new = _diff_cell(group, change["new"])
        if group == "metrics":
            new += f" ({_signed(change['delta'])})"
        if change.get("same_content"):
            new += " (same content)"
        rows.append(("changed", key, _diff_cell(group, change["old"]), new))
    rows += [("added", key, "", _diff_cell(group, v)) for key, v in changes["added"].items()]
    rows += [("removed", key, _diff_cell(group, v), "") for key, v in changes["removed"].items()]
    return rows


def _diff_cell(group: str, value: Any) -> str:
    if value is None:
        return "-"
    if group == "metrics":
        return _number(value)
    if group == "code" and isinstance(value, str):
        return value[:19]
    return value if isinstance(value, str) else json.dumps(value)


def _signed(delta: float) -> str:
    return _number(delta) if not math.isfinite(delta) else f"{delta:+.6g}"


def _json_value(value: Any) -> Any:
    """A value for JSON, which has no NaN or infinity: those become strings, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return _number(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


def _describe(conn: Connection, ref: str) -> dict[str, Any]:
    from shipyard.metadata import artifacts, environments, lineage, metrics, nodes, params, runs

    record = runs.get(conn, ref)
    environment = None
    if record.environment_id is not None:
        environment = environments.get(conn, record.environment_id)
    edges = lineage.of_run(conn, record.id)
    return {
        **record.to_dict(),
        "status": _status(record),
        "duration_s": _seconds(record),
        "tags": runs.tags_of(conn, record.id),
        "params": params.of_run(conn, record.id),
        "metrics": _plain_numbers(metrics.latest(conn, record.id)),
        "inputs": [_edge(edge) for edge in edges if edge.direction == "in"],
        "outputs": [_edge(edge) for edge in edges if edge.direction == "out"],
        "nodes": [_node(item) for item in nodes.of_run(conn, record.id)],
        "artifacts": artifacts.of_run(conn, record.id),
        "environment": _environment(environment),
    }


def _print_run(run: dict[str, Any]) -> None:
    git = (
        f"{run['git_commit'][:12]}"
        + (f" ({run['git_branch']})" if run["git_branch"] else "")
        + (" + uncommitted changes" if run["git_dirty"] else "")
        if run["git_commit"]
        else "not a git work tree"
    )
    environment = run["environment"]
    summary = [
        ("status", run["status"] + (f": {run['error']}" if run["error"] else "")),
        ("pipeline", run["pipeline"] or ""),
        ("name", run["name"] or ""),
        ("started (UTC)", run["started_at"][:19].replace("T", " ")),
        ("duration", _format_seconds(run["duration_s"])),
        ("user@host", f"{run['user'] or '?'}@{run['host'] or '?'} (pid {run['pid']})"),
        ("git", git),
        (
            "environment",
            f"Python {environment['python']}, {environment['packages']} packages, "
            f"{environment['platform']}"
            if environment
            else "",
        ),
        ("tags", ", ".join(f"{k}={v}" for k, v in run["tags"].items())),
    ]
    print_table(f"Run {run['id']}", ["", ""], [row for row in summary if row[1]])
    if run["params"]:
        print_table("Params", ["key", "value"], sorted(run["params"].items()))
    if run["metrics"]:
        print_table("Metrics (latest)", ["key", "value"], sorted(run["metrics"].items()))
    for direction, title in (("inputs", "Data read"), ("outputs", "Data written")):
        if run[direction]:
            print_table(
                title,
                ["dataset@version", "node", "digest"],
                [(e["ref"], e["node"] or "", e["digest"][:19] + "…") for e in run[direction]],
            )
    if run["nodes"]:
        print_table(
            "Nodes",
            ["node", "status", "duration", "cache"],
            [
                (
                    item["node"],
                    item["status"] + (f": {item['error']}" if item["error"] else ""),
                    _format_seconds(item["duration_s"]),
                    "hit" if item["cache_hit"] else "",
                )
                for item in run["nodes"]
            ],
        )
    if run["artifacts"]:
        print_table(
            "Artifacts",
            ["name", "kind", "size", "digest"],
            [
                (a["name"], a["kind"], a["size"], str(a["digest"])[:19] + "…")
                for a in run["artifacts"]
            ],
        )


def _store() -> MetadataStore:
    from shipyard.errors import ProjectError
    from shipyard.settings import project_root_here
    from shipyard.tracking._stores import DB_VARIABLE, tracking_for

    tracking = tracking_for(project_root_here())
    if tracking is None:
        raise ProjectError(
            f"No Shipyard project at or above {Path.cwd()}, and ${DB_VARIABLE} is not set: "
            "there is no run store to read.",
            hint=f"Run the command inside a project, or set {DB_VARIABLE} to the team's store "
            "(postgresql+psycopg://user@host/db).",
        )
    return tracking.store


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        from shipyard.errors import MetadataError, did_you_mean

        raise MetadataError(
            f"--status {status!r} is not a run status." + did_you_mean(status, STATUSES),
            hint=f"Use one of: {', '.join(STATUSES)}.",
        )


def _status(record: RunRecord) -> str:
    from shipyard.tracking._compare import run_status

    return run_status(record)


def _edge(edge: Any) -> dict[str, Any]:
    return {
        "dataset": edge.dataset,
        "version": edge.version_id,
        "ref": f"{edge.dataset}@{edge.version_id}",
        "node": edge.node,
        "digest": edge.digest,
    }


def _node(item: Any) -> dict[str, Any]:
    return {
        "node": item.node,
        "status": item.status,
        "started_at": item.started_at.isoformat() if item.started_at else None,
        "ended_at": item.ended_at.isoformat() if item.ended_at else None,
        "duration_s": item.duration_s,
        "cache_hit": item.cache_hit,
        "fingerprint": item.fingerprint,
        "error": item.error,
    }


def _environment(environment: dict[str, Any] | None) -> dict[str, Any] | None:
    if environment is None:
        return None
    return {
        "id": environment["id"],
        "python": environment["python"],
        "platform": environment["platform"],
        "packages": len(environment["packages"]),
        "conda": environment["conda"] is not None,
    }


def _plain_numbers(values: dict[str, float]) -> dict[str, float | str]:
    """Metric values for JSON, which has no NaN or infinity: those become strings."""
    return _json_value(values)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def _seconds(record: RunRecord) -> float | None:
    from shipyard.tracking._compare import run_seconds

    return run_seconds(record)


def _duration(record: RunRecord) -> str:
    return _format_seconds(_seconds(record))


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
