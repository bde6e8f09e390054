"""``shipyard runs ...``: the tracked runs of the project (or of ``$SHIPYARD_DB``).

``list`` filters and sorts runs with the filter language of docs/metadata.md; ``show``
prints everything recorded about one run. A run left ``running`` by a process that is
gone is shown as ``lost``.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import JsonOption
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata import MetadataStore
    from shipyard.metadata.runs import RunRecord

__all__ = ["app"]

app = typer.Typer(
    help="Tracked runs: list them (filtered and sorted by params, metrics, tags), show one.",
    no_args_is_help=True,
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
        rows = [(record, _status(record), metrics.latest(conn, record.id)) for record in found]
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
    from shipyard.settings import find_project_root
    from shipyard.tracking._stores import DB_VARIABLE, tracking_for

    try:
        root = find_project_root(Path.cwd())
    except ProjectError:
        root = None
    tracking = tracking_for(root)
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
    from shipyard.metadata.runs import process_alive, status_of

    return status_of(record, alive=process_alive)


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
    return {
        key: _number(value) if not math.isfinite(value) else value for key, value in values.items()
    }


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def _seconds(record: RunRecord) -> float | None:
    if record.ended_at is None:
        return None
    return (record.ended_at - record.started_at).total_seconds()


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
