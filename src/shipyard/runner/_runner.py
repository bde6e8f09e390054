"""What every runner does around its own way of executing nodes.

``Runner.run`` checks the catalog and the pipeline's inputs, fires the pipeline hooks,
logs the start and end of the run, turns Ctrl-C into a RunnerError and adds to the error
that stopped a run the command that resumes it. Subclasses only execute nodes.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import pluggy

from shipyard.errors import PipelineError, RunnerError, ShipyardError
from shipyard.pipeline import Node, Pipeline
from shipyard.runner._cache import CacheHit, NodeCache
from shipyard.runner._execution import NodeSteps
from shipyard.runner._hooks import ActiveHooks
from shipyard.runner._protocol import CatalogProtocol, check_catalog
from shipyard.runner._resume import resume_command, resume_nodes
from shipyard.runner._run_id import new_run_id
from shipyard.runner._scheduler import ReleasePlan

__all__ = ["Run", "RunResult", "Runner"]

logger = logging.getLogger("shipyard.runner")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run did.

    ``node_durations`` maps each node to the seconds from loading its first input to
    saving its last output (or restoring its outputs from the node cache);
    ``completed`` lists the nodes in the order they finished, ``cached`` those of them
    whose outputs came from the node cache instead of running.
    """

    run_id: str
    node_durations: dict[str, float]
    duration_s: float
    completed: tuple[str, ...]
    cached: tuple[str, ...] = ()


class Run:
    """The state of one run: what completed, how long it took, what to release."""

    __slots__ = (
        "_cache",
        "_fingerprints",
        "_release",
        "cached",
        "catalog",
        "completed",
        "durations",
        "hooks",
        "pipeline",
        "run_id",
        "steps",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        run_id: str,
        hooks: ActiveHooks,
        cache: NodeCache | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.catalog = catalog
        self.run_id = run_id
        self.hooks = hooks
        self._cache = cache
        self.steps = NodeSteps(
            run_id, catalog, hooks, remember=self._remember if cache is not None else None
        )
        self.completed: list[str] = []
        self.cached: list[str] = []
        self.durations: dict[str, float] = {}
        self._fingerprints: dict[str, str] = {}
        self._release = ReleasePlan(pipeline)

    def restore_cached(self, node: Node) -> bool:
        """Restore ``node``'s outputs from the node cache and mark it done, if the cache
        holds them; False when the node has to run. Call it when the node is ready."""
        cache = self._cache
        if cache is None:
            return False
        start = perf_counter()
        fingerprint = cache.fingerprint(node)
        if fingerprint is None:
            return False
        self._fingerprints[node.name] = fingerprint
        hit = cache.restore(node, fingerprint, self.run_id)
        if hit is None:
            return False
        duration = perf_counter() - start
        self._cache_hit(node, hit, duration)
        self.cached.append(node.name)
        self.node_done(node, duration)
        return True

    def _cache_hit(self, node: Node, hit: CacheHit, duration_s: float) -> None:
        logger.debug(
            "Run %s: node '%s' restored from the node cache (computed by run %s)",
            self.run_id,
            node.name,
            hit.source_run_id or "unknown",
        )
        if self.hooks.after_node_cache_hit is not None:
            self.hooks.after_node_cache_hit(
                run_id=self.run_id,
                node=node,
                catalog=self.catalog,
                fingerprint=hit.fingerprint,
                source_run_id=hit.source_run_id,
                duration_s=duration_s,
            )

    def _remember(self, node: Node) -> None:
        fingerprint = self._fingerprints.get(node.name)
        if fingerprint is None or self._cache is None:
            return
        try:
            self._cache.remember(node, fingerprint, self.run_id)
        except Exception as exc:  # the node's results are saved; only reuse is lost
            logger.warning(
                "Run %s: the results of node '%s' could not be added to the node cache: %s",
                self.run_id,
                node.name,
                exc,
            )

    def node_done(self, node: Node, duration_s: float) -> None:
        """Record ``node`` as done and release the datasets nothing else will read."""
        self.durations[node.name] = duration_s
        self.completed.append(node.name)
        for name in self._release.after(node):
            self.catalog.release(name)


class Runner(abc.ABC):
    """Base of the runners: subclass it and implement ``_execute`` to run nodes another way."""

    def run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        *,
        hooks: pluggy.PluginManager | None = None,
        run_id: str | None = None,
        run_params: Mapping[str, Any] | None = None,
        cache: NodeCache | None = None,
    ) -> RunResult:
        """Run every node of ``pipeline``, reading and writing datasets through ``catalog``.

        ``hooks`` comes from ``create_hook_manager()``; ``run_params`` (env, pipeline name,
        ...) is handed to the pipeline hooks as it is. With a ``cache``, a node whose
        fingerprint the cache knows is not run: its outputs are restored. Raises NodeError
        when a node fails and RunnerError when the run is interrupted; both hints say how
        to resume.
        """
        check_catalog(catalog)
        _check_inputs(pipeline, catalog)
        run = Run(pipeline, catalog, run_id or new_run_id(), ActiveHooks(hooks), cache)
        params = dict(run_params or {})
        total = len(pipeline)
        logger.info("Run %s: %s starts %d nodes", run.run_id, type(self).__name__, total)
        start = perf_counter()
        pipeline_hook = {"run_id": run.run_id, "pipeline": pipeline, "catalog": catalog}
        try:
            if run.hooks.before_pipeline_run is not None:
                run.hooks.before_pipeline_run(**pipeline_hook, run_params=params)
            self._execute(run)
        except BaseException as exc:
            error = _stopped(run, exc)
            if run.hooks.on_pipeline_error is not None:
                run.hooks.on_pipeline_error(**pipeline_hook, run_params=params, error=error)
            if error is exc:
                raise
            raise error from exc
        duration = perf_counter() - start
        result = RunResult(
            run.run_id, run.durations, duration, tuple(run.completed), tuple(run.cached)
        )
        if run.hooks.after_pipeline_run is not None:
            run.hooks.after_pipeline_run(
                **pipeline_hook, run_params=params, duration_s=duration, result=result
            )
        cached = f" ({len(run.cached)} from the node cache)" if run.cached else ""
        logger.info("Run %s: %d nodes done in %.2fs%s", run.run_id, total, duration, cached)
        return result

    @abc.abstractmethod
    def _execute(self, run: Run) -> None:
        """Run every node of ``run.pipeline``, calling ``run.node_done`` after each."""


def _check_inputs(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    missing = sorted(name for name in pipeline.inputs() if name not in catalog)
    if not missing:
        return
    readers = {
        name: [item.name for item in pipeline.nodes if name in item.inputs] for name in missing
    }
    described = "; ".join(
        f"'{name}' (read by {', '.join(map(repr, readers[name]))})" for name in missing
    )
    raise PipelineError(
        f"Dataset{'s' if len(missing) > 1 else ''} {described}: no dataset in the catalog and "
        "no node in the pipeline provides it.",
        hint="Add it to conf/base/catalog.yml (parameters to conf/base/parameters.yml), or "
        "include the nodes that write it: a --nodes, --from-nodes or --tags selection may "
        "have left them out. `shipyard catalog list` shows the catalog.",
    )


def _stopped(run: Run, exc: BaseException) -> BaseException:
    """The error to raise for ``exc``, with the command that resumes the run in its hint."""
    done = len(run.completed)
    names = resume_nodes(run.pipeline, set(run.completed), run.catalog) if done else []
    resume = f"{resume_command(names)} (keep the other options you ran with)" if names else ""
    if isinstance(exc, KeyboardInterrupt):
        return RunnerError(
            f"Run {run.run_id} interrupted after {done} of {len(run.pipeline)} nodes.",
            hint=f"Resume with: {resume}." if resume else "Run it again.",
        )
    if isinstance(exc, ShipyardError) and resume:
        exc.hint = f"{exc.hint} Then resume with: {resume}."
    return exc
