"""Automatic registration: every version a pipeline run saves of a ``type: model`` dataset
with ``register: NAME`` becomes a version of the registered model NAME.

``registrar`` is registered for every session by Shipyard's own ``shipyard.hooks`` entry
point, after the tracker (so the run it names is recorded). A version restored from the
node cache is registered too; registering content already registered returns the
existing version, so reruns add nothing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.pipeline import Node
from shipyard.runner import hook_impl

if TYPE_CHECKING:
    from shipyard.models._registry import ModelRegistry

__all__ = ["ModelRegistrar", "registrar"]

logger = logging.getLogger("shipyard.models")


class ModelRegistrar:
    """The hook plugin behind ``register:`` on model datasets (see the module docstring)."""

    def __init__(self) -> None:
        # run id -> (project root, env, {dataset: model name}, the registry once opened)
        self._runs: dict[str, _Targets] = {}

    @hook_impl
    def before_pipeline_run(self, run_id: str, catalog: Any, run_params: dict[str, Any]) -> None:
        root = run_params.get("project_root")
        if not root or not hasattr(catalog, "list"):
            return
        dataset_module = sys.modules.get("shipyard.models._dataset")
        if dataset_module is None:
            return  # no model dataset was built, so none registers: and no import to pay
        targets = {}
        for name in catalog.list():
            dataset = catalog.get(name)
            dataset = getattr(dataset, "wrapped", dataset)  # a versioned dataset's own
            if isinstance(dataset, dataset_module.ModelDataset) and dataset.register:
                targets[name] = dataset.register
        if targets:
            self._runs[run_id] = _Targets(Path(root), run_params.get("env"), targets)

    @hook_impl
    def after_node_run(self, run_id: str, node: Node, catalog: Any) -> None:
        self._register(run_id, node, catalog)

    @hook_impl
    def after_node_cache_hit(self, run_id: str, node: Node, catalog: Any) -> None:
        self._register(run_id, node, catalog)

    @hook_impl
    def after_pipeline_run(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    @hook_impl
    def on_pipeline_error(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def _register(self, run_id: str, node: Node, catalog: Any) -> None:
        targets = self._runs.get(run_id)
        if targets is None:
            return
        for dataset in node.outputs:
            model = targets.models.get(dataset)
            version = catalog.version_of(dataset) if model else None
            if model is None:
                continue
            if version is None:
                logger.warning(
                    "Model dataset '%s' has `register: %s` but is not versioned; add "
                    "`versioned: true` to its catalog entry to register what runs save.",
                    dataset,
                    model,
                )
                continue
            record = targets.registry().register(
                model, version.digest, run_id=run_id, dataset=dataset
            )
            logger.info("Registered %s version %d (dataset '%s').", model, record.version, dataset)


class _Targets:
    """The model datasets of one run that register what they save."""

    def __init__(self, root: Path, env: str | None, models: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.models = models
        self._registry: ModelRegistry | None = None

    def registry(self) -> ModelRegistry:
        if self._registry is None:
            from shipyard.models._registry import ModelRegistry

            self._registry = ModelRegistry.for_project(self.root, env=self.env)
        return self._registry


#: The instance the ``shipyard.hooks`` entry point registers.
registrar = ModelRegistrar()
