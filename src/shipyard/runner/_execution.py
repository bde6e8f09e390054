"""The steps of running one node: load its inputs, call its function, save its outputs,
with the hooks around each step.

This is the per-node hot path, so each hook is checked for implementations once per run
(``ActiveHooks``) and its keyword arguments are only built when someone listens.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from time import perf_counter
from typing import Any

from shipyard.errors import NodeError, ShipyardError
from shipyard.pipeline import Node
from shipyard.runner._hooks import ActiveHooks
from shipyard.runner._protocol import CatalogProtocol

__all__ = ["NodeSteps", "failure_location", "node_error"]

logger = logging.getLogger("shipyard.runner")


class NodeSteps:
    """Loads, runs and saves nodes of one run, firing that run's hooks."""

    __slots__ = ("_catalog", "_debug", "_hooks", "_remember", "_run_id")

    def __init__(
        self,
        run_id: str,
        catalog: CatalogProtocol,
        hooks: ActiveHooks,
        *,
        remember: Callable[[Node], None] | None = None,
    ) -> None:
        self._run_id = run_id
        self._catalog = catalog
        self._hooks = hooks
        self._remember = remember
        self._debug = logger.isEnabledFor(logging.DEBUG)

    def execute(self, node: Node) -> float:
        """Load, run and save ``node`` in this thread; return the seconds it took."""
        start = perf_counter()
        inputs: dict[str, Any] = {}
        try:
            inputs = self.load_inputs(node)
            self.before_run(node, inputs)
            call_start = perf_counter()
            try:
                outputs = node.run(inputs)
            except Exception as exc:
                self.report_error(node, inputs, exc)
                raise node_error(node, exc) from exc
            call_duration = perf_counter() - call_start
            # Outputs are saved before after_node_run, so a hook sees a node whose results
            # are stored (progress counts it done; tracking can record the saved versions).
            self.save_outputs(node, outputs)
            self.after_run(node, inputs, outputs, call_duration)
        except NodeError:
            raise
        except Exception as exc:
            self.report_error(node, inputs, exc)
            raise
        return perf_counter() - start

    def load_inputs(self, node: Node) -> dict[str, Any]:
        """The data of every input of ``node``, by dataset name."""
        load = self._catalog.load
        before, after = self._hooks.before_dataset_loaded, self._hooks.after_dataset_loaded
        if before is None and after is None:
            return {name: load(name) for name in node.inputs}
        inputs = {}
        for name in node.inputs:
            if before is not None:
                before(run_id=self._run_id, dataset_name=name, node=node)
            start = perf_counter()
            data = load(name)
            if after is not None:
                after(
                    run_id=self._run_id,
                    dataset_name=name,
                    data=data,
                    node=node,
                    duration_s=perf_counter() - start,
                )
            inputs[name] = data
        return inputs

    def save_outputs(self, node: Node, outputs: dict[str, Any]) -> None:
        """Save each of ``node``'s outputs to the catalog; once all are saved, the node
        cache (if the run has one) remembers them."""
        save = self._catalog.save
        before, after = self._hooks.before_dataset_saved, self._hooks.after_dataset_saved
        for name, data in outputs.items():
            if before is not None:
                before(run_id=self._run_id, dataset_name=name, data=data, node=node)
            start = perf_counter()
            save(name, data)
            if after is not None:
                after(
                    run_id=self._run_id,
                    dataset_name=name,
                    data=data,
                    node=node,
                    duration_s=perf_counter() - start,
                )
        if self._remember is not None:
            self._remember(node)

    def before_run(self, node: Node, inputs: dict[str, Any]) -> None:
        """Log and fire ``before_node_run``."""
        if self._debug:
            logger.debug("Run %s: node '%s' starts", self._run_id, node.name)
        hook = self._hooks.before_node_run
        if hook is not None:
            hook(run_id=self._run_id, node=node, catalog=self._catalog, inputs=inputs)

    def after_run(
        self, node: Node, inputs: dict[str, Any], outputs: dict[str, Any], duration_s: float
    ) -> None:
        """Log and fire ``after_node_run``."""
        if self._debug:
            logger.debug("Run %s: node '%s' ran in %.4fs", self._run_id, node.name, duration_s)
        hook = self._hooks.after_node_run
        if hook is not None:
            hook(
                run_id=self._run_id,
                node=node,
                catalog=self._catalog,
                inputs=inputs,
                outputs=outputs,
                duration_s=duration_s,
            )

    def report_error(self, node: Node, inputs: dict[str, Any], error: BaseException) -> None:
        """Fire ``on_node_error`` with the original exception."""
        hook = self._hooks.on_node_error
        if hook is not None:
            hook(run_id=self._run_id, node=node, catalog=self._catalog, inputs=inputs, error=error)


def node_error(node: Node, error: BaseException, location: str | None = None) -> NodeError:
    """The NodeError for ``error`` raised by ``node``'s function. Its hint is the fix for
    ``error`` if it is a Shipyard error; the runner adds how to resume."""
    where = location if location is not None else failure_location(error)
    inputs = ", ".join(node.inputs) or "none"
    hint = (
        error.hint
        if isinstance(error, ShipyardError)
        else "Fix the node's function; run with --debug to see the full traceback."
    )
    return NodeError(
        f"Node '{node.name}' failed{where}: {type(error).__name__}: {error} (inputs: {inputs}).",
        node=node.name,
        hint=hint,
    )


def failure_location(error: BaseException) -> str:
    """`` at nodes.py:42 in clean``: where the innermost frame of ``error`` raised."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    path = frame.filename
    try:
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative
    except ValueError:  # another drive on Windows
        pass
    return f" at {path}:{frame.lineno} in {frame.name}"
