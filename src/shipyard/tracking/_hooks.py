"""Automatic tracking of pipeline runs, through the runner's hooks.

``tracker`` is registered for every session by Shipyard's own ``shipyard.hooks`` entry
point. For each pipeline run of a project (or with ``$SHIPYARD_DB`` set) it records one
run: its parameters, git state and environment, each node (timings, cache hits, errors),
the versions of the versioned datasets each node read and wrote (lineage), the values
saved to ``metrics`` datasets and whatever nodes log with ``shipyard.log_metric``, and
how it ended (finished, failed, interrupted by Ctrl-C or SIGTERM).

Tracking never breaks a run: once the run is recorded, a store error is logged as one
warning for the run and the pipeline goes on. Only a store that cannot be opened at the
start stops the run, before any node runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.pipeline import Node
from shipyard.runner import hook_impl
from shipyard.tracking._current import (
    RUN_ID_VARIABLE,
    RUN_PROJECT_VARIABLE,
    enter_pipeline_run,
    leave_pipeline_run,
)
from shipyard.tracking._run import ActiveRun, create_run, running_node
from shipyard.tracking._stores import tracking_for

__all__ = ["Tracker", "tracker"]

_CHILD_VARIABLES = (RUN_ID_VARIABLE, RUN_PROJECT_VARIABLE)

logger = logging.getLogger("shipyard.tracking")


@dataclass
class _PipelineRun:
    """What the tracker keeps about one pipeline run in progress."""

    run: ActiveRun
    catalog: Any
    add: Callable[[str, str, Any], None]  # the batch writer's add(kind, run_id, record)
    started: dict[str, float] = field(default_factory=dict)  # node -> time.time()
    is_metrics: dict[str, bool] = field(default_factory=dict)
    warned: bool = False
    terminated: bool = False
    previous_sigterm: Any = None
    previous_variables: dict[str, str | None] = field(default_factory=dict)


class Tracker:
    """The hook plugin that tracks pipeline runs (see the module docstring).

    It does nothing for a run whose ``run_params`` have no ``project_root`` while
    ``$SHIPYARD_DB`` is unset: there is no store to record it in.
    """

    def __init__(self) -> None:
        self._runs: dict[str, _PipelineRun] = {}

    @hook_impl
    def before_pipeline_run(
        self, run_id: str, pipeline: Any, catalog: Any, run_params: dict[str, Any]
    ) -> None:
        root = run_params.get("project_root")
        project_root = Path(root) if root else None
        tracking = tracking_for(project_root)  # unreachable: a clear error, no node has run
        if tracking is None:
            return
        run = create_run(
            tracking,
            run_id=run_id,
            project_root=project_root,
            project=run_params.get("project"),
            pipeline=run_params.get("pipeline_name"),
            env=run_params.get("env"),
        )
        state = _PipelineRun(run, catalog, run.writer.add)
        run.known_versions = lambda: _known_versions(pipeline, catalog)
        self._runs[run_id] = state
        with self._recording(state, "its parameters"):
            parameters = _parameters(catalog)
            if parameters:
                run.log_params(parameters)
        enter_pipeline_run(run)
        # Processes the run starts (ProcessRunner workers, a notebook node's kernel)
        # inherit the run's id, so that their shipyard.log_metric calls reach it.
        state.previous_variables = {v: os.environ.get(v) for v in _CHILD_VARIABLES}
        os.environ.pop(RUN_PROJECT_VARIABLE, None)  # none for a run in $SHIPYARD_DB alone
        os.environ.update(run.child_environment())
        _handle_sigterm(state)

    # Per node, two hooks: before_node_run and after_node_run (outputs are saved before
    # it fires, so the versions of inputs and outputs are both known then). Records are
    # plain tuples handed to the batch writer: the hot path of a 1,000-node run.

    @hook_impl
    def before_node_run(self, run_id: str, node: Node) -> None:
        state = self._runs.get(run_id)
        if state is not None:
            state.started[node.name] = time.time()
            running_node.name = node.name

    @hook_impl
    def after_node_run(
        self, run_id: str, node: Node, outputs: dict[str, Any], duration_s: float
    ) -> None:
        state = self._runs.get(run_id)
        if state is None:
            return
        self._node_run(state, node, "finished", duration_s)
        try:
            self._edges(state, node, node.inputs, "in")
            self._edges(state, node, outputs, "out")
            for name, data in outputs.items():
                # metrics datasets hold dicts: other values need no catalog lookup
                if isinstance(data, dict) and self._is_metrics(state, name):
                    state.run.log_metrics(data)
        except Exception as exc:
            self._warn(state, f"the data versions or metrics of node '{node.name}'", exc)
        running_node.name = None

    @hook_impl
    def on_node_error(self, run_id: str, node: Node, error: BaseException) -> None:
        state = self._runs.get(run_id)
        if state is not None:
            running_node.name = None
            self._node_run(state, node, "failed", None, error=f"{type(error).__name__}: {error}")
            with self._recording(state, f"the data versions of node '{node.name}'"):
                self._edges(state, node, node.inputs, "in")

    @hook_impl
    def after_node_cache_hit(
        self, run_id: str, node: Node, fingerprint: str, duration_s: float
    ) -> None:
        state = self._runs.get(run_id)
        if state is not None:
            self._node_run(state, node, "cached", duration_s, fingerprint=fingerprint)
            with self._recording(state, f"the data versions of node '{node.name}'"):
                # Inputs this run knows the version of (restored or loaded by an earlier
                # node); a cached node loads nothing itself.
                self._edges(state, node, node.inputs, "in")
                self._edges(state, node, node.outputs, "out")

    @hook_impl
    def after_pipeline_run(self, run_id: str) -> None:
        self._finish(run_id, "finished", None)

    @hook_impl
    def on_pipeline_error(self, run_id: str, error: BaseException) -> None:
        state = self._runs.get(run_id)
        if state is None:
            return
        # The runner turns Ctrl-C into a RunnerError and calls this hook while handling
        # the KeyboardInterrupt, so the interrupt is the exception being handled.
        interrupted = state.terminated or any(
            isinstance(exc, KeyboardInterrupt) for exc in (error, sys.exception())
        )
        if state.terminated:
            message = "terminated (SIGTERM)"
        else:
            message = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
        self._finish(run_id, "interrupted" if interrupted else "failed", message)

    def _finish(self, run_id: str, status: str, error: str | None) -> None:
        state = self._runs.pop(run_id, None)
        if state is None:
            return
        _restore_sigterm(state)
        for variable, previous in state.previous_variables.items():
            if previous is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = previous
        leave_pipeline_run(state.run)
        running_node.name = None
        with self._recording(state, "how it ended"):
            state.run.finish(status, error)

    def _node_run(
        self,
        state: _PipelineRun,
        node: Node,
        status: str,
        duration_s: float | None,
        *,
        fingerprint: str | None = None,
        error: str | None = None,
    ) -> None:
        started = state.started.pop(node.name, None)
        record = (node.name, status, started, time.time(), duration_s, fingerprint, error)
        state.add("node", state.run.id, record)

    def _edges(
        self, state: _PipelineRun, node: Node, datasets: Iterable[str], direction: str
    ) -> None:
        version_of = state.catalog.version_of
        for dataset in datasets:
            version = version_of(dataset)
            if version is not None:
                record = (node.name, dataset, version.id, str(version.digest), direction)
                state.add("edge", state.run.id, record)

    def _is_metrics(self, state: _PipelineRun, name: str) -> bool:
        known = state.is_metrics.get(name)
        if known is None:
            try:
                known = state.catalog.describe(name).get("type") == "metrics"
            except Exception:  # a catalog without describe(), or an odd dataset
                known = False
            state.is_metrics[name] = known
        return known

    @contextmanager
    def _recording(self, state: _PipelineRun, what: str) -> Iterator[None]:
        """Record something for ``state``'s run; a failure is one warning per run."""
        try:
            yield
        except Exception as exc:
            self._warn(state, what, exc)

    def _warn(self, state: _PipelineRun, what: str, exc: Exception) -> None:
        if not state.warned:
            state.warned = True
            logger.warning(
                "Run %s: tracking could not record %s (%s: %s); the run goes on, but its "
                "record in %s may be incomplete.",
                state.run.id,
                what,
                type(exc).__name__,
                getattr(exc, "message", None) or exc,
                state.run.store_url,
            )


def _parameters(catalog: Any) -> Mapping[str, Any] | None:
    """The session's parameters: the catalog's ``parameters`` dataset, if it has one."""
    listed = getattr(catalog, "list", None)
    if listed is None or "parameters" not in listed("^parameters$"):
        return None
    parameters = catalog.load("parameters")
    return parameters if isinstance(parameters, Mapping) else None


def _known_versions(pipeline: Any, catalog: Any) -> list[dict[str, str]]:
    """The versions of the data the running node's inputs were made from (all versions
    the catalog has loaded or saved, outside a node): what a model it saves came from."""
    names = set(getattr(catalog, "versioned_datasets", list)())
    node = getattr(running_node, "name", None)
    if node is not None and hasattr(pipeline, "nodes"):
        names &= _upstream_of(pipeline, node)
    known = []
    for name in sorted(names):
        version = catalog.version_of(name)
        if version is not None:
            known.append({"dataset": name, "version_id": version.id, "digest": str(version.digest)})
    return known


def _upstream_of(pipeline: Any, node_name: str) -> set[str]:
    """The datasets ``node_name`` reads, and those they were made from, transitively."""
    producers = {output: item for item in pipeline.nodes for output in item.outputs}
    pending = [
        input_ for item in pipeline.nodes if item.name == node_name for input_ in item.inputs
    ]
    upstream: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in upstream:
            upstream.add(name)
            producer = producers.get(name)
            if producer is not None:
                pending.extend(producer.inputs)
    return upstream


def _handle_sigterm(state: _PipelineRun) -> None:
    """While the run is on, SIGTERM stops it as Ctrl-C does, so that it ends
    ``interrupted``; the previous handler comes back when the run ends."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread

    def terminate(signum: int, frame: Any) -> None:
        state.terminated = True
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    try:
        state.previous_sigterm = signal.signal(signal.SIGTERM, terminate)
    except (ValueError, OSError):  # an embedding interpreter that refuses
        state.previous_sigterm = None


def _restore_sigterm(state: _PipelineRun) -> None:
    if state.previous_sigterm is not None and (
        threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGTERM, state.previous_sigterm)


#: The instance the ``shipyard.hooks`` entry point registers.
tracker = Tracker()
