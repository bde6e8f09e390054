"""``shipyard run``: run a project's pipeline, or a slice of it."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._options import EnvOption, QuietOption, split_names
from shipyard.cli._output import say

if TYPE_CHECKING:
    from shipyard.project import Session
    from shipyard.runner import RunResult

__all__ = ["open_session", "run", "run_session", "run_summary"]


class RunnerName(StrEnum):
    sequential = "sequential"
    thread = "thread"
    process = "process"


def run(
    pipeline: Annotated[
        str, typer.Option("--pipeline", "-p", metavar="NAME", help="The pipeline to run.")
    ] = "__default__",
    env: EnvOption = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            metavar="KEY=VALUE,...",
            help="Override parameters: 'model.C=0.5,split.test_size=0.3'. Values are "
            "parsed as YAML (numbers, true/false, [lists]).",
            show_default=False,
        ),
    ] = None,
    runner: Annotated[
        RunnerName, typer.Option("--runner", "-r", help="How nodes are executed.")
    ] = RunnerName.sequential,
    max_workers: Annotated[
        int | None,
        typer.Option(
            "--max-workers", min=1, metavar="N", help="Workers for the thread and process runners."
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tags",
            "-t",
            metavar="TAGS",
            help="Only nodes with any of these tags (comma-separated).",
        ),
    ] = None,
    nodes: Annotated[
        list[str] | None,
        typer.Option("--nodes", "-n", metavar="NODES", help="Only these nodes (comma-separated)."),
    ] = None,
    from_nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--from-nodes", metavar="NODES", help="These nodes and everything downstream of them."
        ),
    ] = None,
    to_nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--to-nodes", metavar="NODES", help="These nodes and everything upstream of them."
        ),
    ] = None,
    from_inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--from-inputs", metavar="DATASETS", help="Everything downstream of these datasets."
        ),
    ] = None,
    to_outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--to-outputs", metavar="DATASETS", help="Everything needed to produce these datasets."
        ),
    ] = None,
    load_version: Annotated[
        list[str] | None,
        typer.Option(
            "--load-version",
            metavar="DATASET=VERSION",
            help="Load a versioned dataset at a version id, unique id prefix or tag "
            "(comma-separated or repeated); `shipyard data versions NAME` lists them.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Run every node, even those whose code, inputs and parameters match an "
            "earlier run (their results are still remembered for the next run).",
        ),
    ] = False,
    refresh: Annotated[
        list[str] | None,
        typer.Option(
            "--refresh",
            metavar="NODES",
            help="Run these nodes even if the node cache holds their results "
            "(comma-separated); nodes after them run only if their inputs changed.",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Run a pipeline of the project in the current folder (default: __default__).

    Nodes whose code, inputs and parameters are unchanged since an earlier successful
    run are not run again: their outputs are restored from the node cache (projects with
    versioned datasets; see docs/cache.md)."""
    from shipyard.config import parse_params_overrides
    from shipyard.data import parse_load_versions

    session = open_session(
        env,
        parse_params_overrides(params) if params else None,
        load_versions=parse_load_versions(load_version or ()),
        quiet=quiet,
    )
    result = run_session(
        session,
        pipeline,
        runner=_make_runner(runner, max_workers),
        quiet=quiet,
        tags=split_names(tags),
        node_names=split_names(nodes),
        from_nodes=split_names(from_nodes),
        to_nodes=split_names(to_nodes),
        from_inputs=split_names(from_inputs),
        to_outputs=split_names(to_outputs),
        cache=not no_cache,
        refresh=split_names(refresh),
    )
    if not quiet:
        say(f"[green]✓[/green] {run_summary(result, pipeline)} (env {session.settings.env})")


def run_summary(result: RunResult, pipeline: str) -> str:
    """``Run 01J…: 7 nodes of '__default__' in 0.31s, 5 from the node cache``."""
    text = (
        f"Run {result.run_id}: {len(result.completed)} nodes of '{pipeline}' in "
        f"{result.duration_s:.2f}s"
    )
    return f"{text}, {len(result.cached)} from the node cache" if result.cached else text


def open_session(
    env: str | None,
    params: dict[str, object] | None = None,
    *,
    load_versions: dict[str, str] | None = None,
    quiet: bool = False,
) -> Session:
    """Open the project in the current folder and configure logging from its conf."""
    from shipyard.project import Session, configure_logging, default_logging_config

    session = Session.open(env=env, params=params, load_versions=load_versions)
    config = session.config.logging_config()
    configure_logging(config or default_logging_config(session.settings.package_name), quiet=quiet)
    return session


def run_session(
    session: Session, pipeline: str, *, runner: object = None, quiet: bool = False, **selection
) -> RunResult:
    """Run with a progress bar attached to the session's hooks."""
    from shipyard.project import RunProgress

    progress = RunProgress(quiet=quiet)
    session.hooks.register(progress)
    try:
        return session.run(pipeline, runner=runner, **selection)
    finally:
        session.hooks.unregister(progress)


def _make_runner(name: RunnerName, max_workers: int | None) -> object:
    from shipyard.runner import ProcessRunner, SequentialRunner, ThreadRunner

    if name is RunnerName.thread:
        return ThreadRunner(max_workers=max_workers)
    if name is RunnerName.process:
        return ProcessRunner(max_workers=max_workers)
    return SequentialRunner()
