"""``shipyard lineage REF`` and ``shipyard runs reproduce RUN``.

``lineage`` draws where a dataset version came from (the runs, their inputs, back to raw
data) and what was made from it, as a terminal tree, Graphviz DOT, an HTML page or JSON.
``reproduce`` re-runs a tracked run with its params, input data versions, configuration
environment and pipeline, after checking that the code is the run's commit.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import QuietOption
from shipyard.cli._output import emit_json, say
from shipyard.cli._runs import _plain_numbers, _store

if TYPE_CHECKING:
    from shipyard.objects import VersionIndex
    from shipyard.tracking._lineage import LineageGraph

__all__ = ["lineage", "reproduce"]

#: Package changes listed in the environment warning of ``reproduce``.
MAX_PACKAGE_CHANGES = 10


class Format(StrEnum):
    tree = "tree"
    dot = "dot"
    html = "html"
    json = "json"


def lineage(
    ref: Annotated[
        str,
        typer.Argument(
            help="DATASET@VERSION (a version id, unique prefix of 4+ characters, tag or "
            "'latest'), DATASET alone (its latest version), or a run id/prefix.",
            metavar="REF",
        ),
    ],
    upstream: Annotated[
        bool,
        typer.Option("--upstream", help="Only where it came from (runs, their inputs, ...)."),
    ] = False,
    downstream: Annotated[
        bool,
        typer.Option("--downstream", help="Only what was made from it (runs that read it, ...)."),
    ] = False,
    both: Annotated[bool, typer.Option("--both", help="Both directions (the default).")] = False,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            "-d",
            min=0,
            metavar="N",
            help="Go at most N runs away from the start. Default: all the way.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="tree (terminal), dot (Graphviz), html (a page with an SVG drawing), json.",
        ),
    ] = Format.tree,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the result to FILE instead of stdout.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The lineage of a dataset version or a run: the runs (with pipeline node, start and
    git commit) and dataset versions (with digest) upstream and/or downstream of it."""
    from shipyard.tracking._lineage import lineage_of

    direction = _direction(upstream=upstream, downstream=downstream, both=both)
    store = _store()
    with store.connect() as conn:
        graph = lineage_of(conn, ref, direction, depth, index=_version_index())
    _write(graph, output_format, output)


def reproduce(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix (4+ characters).")],
    allow_code_change: Annotated[
        bool,
        typer.Option(
            "--allow-code-change",
            help="Run even when the work tree is not at the run's git commit, or has "
            "uncommitted changes (with a warning).",
        ),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Re-run a tracked pipeline run with its params, input data versions, configuration
    environment and pipeline. Every node runs (no node cache). The code must be at the
    run's commit; a different Python or package set is a warning. The new run is tagged
    reproduces=RUN, and its metrics are compared with the original's."""
    from shipyard.cli._run import open_session, run_session
    from shipyard.errors import MetadataError, ProjectError
    from shipyard.metadata import environments, lineage, metrics, params, runs
    from shipyard.settings import find_project_root
    from shipyard.tracking._capture import capture_environment, capture_git

    store = _store()
    with store.connect() as conn:
        record = runs.get(conn, run)
        stored_params = params.of_run(conn, record.id)
        edges = lineage.of_run(conn, record.id)
        original_metrics = metrics.latest(conn, record.id)
        environment = (
            environments.get(conn, record.environment_id) if record.environment_id else None
        )
    if not record.pipeline:
        raise MetadataError(
            f"Run {record.id} is not a pipeline run (it was started with start_run), so "
            "there is no pipeline to run again.",
            hint="Reproduce pipeline runs: `shipyard runs list --where \"pipeline != ''\"`.",
        )
    root = find_project_root(Path.cwd())
    if record.project and record.project != _package_name(root):
        raise ProjectError(
            f"Run {record.id} belongs to project '{record.project}', not to the project at {root}.",
            hint=f"Run `shipyard runs reproduce {record.id}` inside the '{record.project}' "
            "project.",
        )
    _check_code(record, capture_git(root), allow_code_change=allow_code_change)
    if environment is not None:
        _warn_environment(environment, capture_environment())
    written = {edge.dataset for edge in edges if edge.direction == "out"}
    load_versions = {
        edge.dataset: edge.version_id
        for edge in edges
        if edge.direction == "in" and edge.dataset not in written
    }
    session = open_session(
        record.env, stored_params or None, load_versions=load_versions, quiet=quiet
    )
    result = run_session(session, record.pipeline, quiet=quiet, cache=False)
    with store.begin() as conn:
        runs.set_tags(conn, result.run_id, {"reproduces": record.id})
    with store.connect() as conn:
        new_metrics = metrics.latest(conn, result.run_id)
    differing = _differing(original_metrics, new_metrics)
    say(f"[green]✓[/green] Run {result.run_id} reproduces run {record.id}")
    if not differing:
        say(f"  metrics match the original's ({len(new_metrics)} equal)")
    else:
        original, new = _plain_numbers(original_metrics), _plain_numbers(new_metrics)
        say(
            "  [yellow]metrics differ[/yellow]: "
            + ", ".join(f"{key} ({original.get(key)} → {new.get(key)})" for key in differing)
        )


def _direction(*, upstream: bool, downstream: bool, both: bool) -> Any:
    chosen = [name for name, on in (("upstream", upstream), ("downstream", downstream)) if on]
    if both or len(chosen) != 1:
        return "both"
    return chosen[0]


def _version_index() -> VersionIndex | None:
    """The project's version index (tags resolve through it), or None outside a project."""
    from shipyard.errors import ProjectError
    from shipyard.objects import VersionIndex
    from shipyard.settings import find_project_root

    try:
        root = find_project_root(Path.cwd())
    except ProjectError:
        return None
    path = root / ".shipyard" / "versions.db"
    return VersionIndex(path) if path.is_file() else None


def _write(graph: LineageGraph, output_format: Format, output: Path | None) -> None:
    if output_format is Format.tree:
        from rich.console import Console

        if output is None:
            Console(highlight=False).print(graph.to_tree())
            return
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, highlight=False, width=200, no_color=True).print(graph.to_tree())
    elif output_format is Format.json:
        if output is None:
            emit_json("lineage", graph.to_dict())
            return
        import json

        output.write_text(json.dumps({"lineage": graph.to_dict()}, indent=2) + "\n")
    else:
        text = graph.to_dot() if output_format is Format.dot else graph.to_html()
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
    say(f"Lineage of {graph.start} ({len(graph.nodes)} nodes) written to {output}")


def _package_name(root: Path) -> str:
    from shipyard.settings import Settings

    return Settings.for_project(root).package_name


def _check_code(record: Any, current: Any, *, allow_code_change: bool) -> None:
    """Refuse (or, with --allow-code-change, warn) when the work tree is not the run's code."""
    from shipyard.errors import ProjectError

    if record.git_commit is None:
        say(
            f"[yellow]Warning:[/yellow] run {record.id} recorded no git commit (it ran outside "
            "a git work tree), so its code cannot be checked."
        )
        return
    same = (
        current.commit == record.git_commit
        and bool(current.dirty) == bool(record.git_dirty)
        and (not current.dirty or current.diff_digest == record.git_diff_digest)
    )
    if same:
        return
    now = (current.commit or "no commit") + (" + uncommitted changes" if current.dirty else "")
    then = record.git_commit + (" + uncommitted changes" if record.git_dirty else "")
    message = f"Run {record.id} was made from commit {then}; the work tree is at {now}."
    if allow_code_change:
        say(f"[yellow]Warning:[/yellow] {message} Running anyway (--allow-code-change).")
        return
    raise ProjectError(
        message,
        hint=f"`git stash` your changes and `git checkout {record.git_commit}`, then run "
        "again; or pass --allow-code-change to run the current code anyway.",
    )


def _warn_environment(original: dict[str, Any], current: Any) -> None:
    """A warning listing what differs from the run's environment; never an error."""
    notes = []
    if original["python"] != current.python:
        notes.append(f"Python {original['python']} then, {current.python} now")
    before, after = original["packages"] or {}, current.packages
    changes = [
        f"{name} {before.get(name, '(absent)')} → {after.get(name, '(absent)')}"
        for name in sorted(set(before) | set(after), key=str.lower)
        if before.get(name) != after.get(name)
    ]
    if not (notes or changes):
        return
    shown = changes[:MAX_PACKAGE_CHANGES]
    if len(changes) > len(shown):
        shown.append(f"and {len(changes) - len(shown)} more")
    if changes:
        notes.append(f"{len(changes)} package(s) differ: " + ", ".join(shown))
    say(
        "[yellow]Warning:[/yellow] the environment differs from the run's: "
        + "; ".join(notes)
        + ". Results may differ."
    )


def _differing(original: dict[str, float], new: dict[str, float]) -> list[str]:
    """Metric keys whose values differ (NaN equals NaN), or that only one run has."""
    return [
        key
        for key in sorted(set(original) | set(new))
        if key not in original
        or key not in new
        or not (original[key] == new[key] or (math.isnan(original[key]) and math.isnan(new[key])))
    ]
