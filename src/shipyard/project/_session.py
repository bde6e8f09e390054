"""The session: one project, one environment, its config, catalog, pipelines and hooks.

Everything a run needs is resolved here from the project folder, then handed to a
runner. Tracking and other plugins attach through the hook manager, so this module
knows nothing about them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import ConfigLoader
from shipyard.data import Catalog, Versioning
from shipyard.errors import PipelineError, PipelineNotFoundError, ProjectError, did_you_mean
from shipyard.project._registry import load_pipelines, load_project_module
from shipyard.runner import RunResult, SequentialRunner, create_hook_manager, new_run_id
from shipyard.settings import Settings

if TYPE_CHECKING:
    import pluggy

    from shipyard.pipeline import Pipeline
    from shipyard.project._cache import ProjectNodeCache

__all__ = ["Session"]

DEFAULT_PIPELINE = "__default__"


class Session:
    """A project opened for one environment.

    >>> session = Session.open("churn", env="local")  # doctest: +SKIP
    >>> session.catalog.load("customers_raw").shape  # doctest: +SKIP
    (5000, 9)
    >>> session.run("training").completed  # doctest: +SKIP
    ('train_model', 'evaluate_model')
    """

    def __init__(
        self,
        settings: Settings,
        *,
        params: Mapping[str, Any] | None = None,
        load_versions: Mapping[str, str] | None = None,
        extra_hooks: Iterable[object] = (),
    ) -> None:
        self.settings = settings
        self.config = ConfigLoader(settings.conf_source, settings.env, runtime_params=params)
        self._load_versions = dict(load_versions or {})
        self._extra_hooks = tuple(extra_hooks)
        #: The id of the run in progress: versions saved meanwhile record it.
        self.current_run_id: str | None = None

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        env: str | None = None,
        params: Mapping[str, Any] | None = None,
        load_versions: Mapping[str, str] | None = None,
        extra_hooks: Iterable[object] = (),
    ) -> Session:
        """Open the project at or above ``path`` (default: the current folder).

        ``load_versions`` pins versioned datasets to a version id or tag for this session
        (``{"customers": "q3-audit"}``). The project's ``src`` folder goes on ``sys.path``
        so that its package, pipelines and hooks import as they do in its own tests.
        """
        settings = Settings.for_project(Path(path) if path is not None else None, env=env)
        _use_project_source(settings)
        return cls(settings, params=params, load_versions=load_versions, extra_hooks=extra_hooks)

    @cached_property
    def params(self) -> dict[str, Any]:
        """The merged parameters, with runtime overrides applied."""
        return self.config.parameters

    @cached_property
    def hooks(self) -> pluggy.PluginManager:
        """The hook manager: project hooks, installed plugins and ``extra_hooks``."""
        return create_hook_manager(*self._project_hooks(), *self._extra_hooks)

    @cached_property
    def catalog(self) -> Catalog:
        """The data catalog of this environment, with parameters as ``params:`` datasets."""
        entries = self.config.catalog
        catalog = Catalog.from_config(
            entries,
            credentials=self.config.credentials,
            project_root=self.settings.project_root,
            origins={name: self.config.origin("catalog", name) for name in entries},
            versioning=self.versioning if self._uses_versioning(entries) else None,
        )
        catalog.add_parameters(self.params)
        self.hooks.hook.after_catalog_created(catalog=catalog)
        return catalog

    @cached_property
    def versioning(self) -> Versioning:
        """The project's object store, version index and stat cache in ``.shipyard``.

        Objects are re-hashed as they are read, so a corrupt version is never used.
        """
        return Versioning.open(
            self.settings.shipyard_dir,
            load_versions=self._load_versions,
            run_id_provider=lambda: self.current_run_id,
            verify_on_read=True,
        )

    def _uses_versioning(self, entries: Mapping[str, Mapping[str, Any]]) -> bool:
        # Projects without versioned datasets never get a .shipyard store.
        return bool(self._load_versions) or any(
            isinstance(entry, Mapping) and entry.get("versioned") for entry in entries.values()
        )

    @cached_property
    def pipelines(self) -> dict[str, Pipeline]:
        """The project's pipelines by name, ``__default__`` included."""
        return load_pipelines(self.settings.package_name)

    def pipeline(self, name: str = DEFAULT_PIPELINE) -> Pipeline:
        """One pipeline by name; an unknown name lists the ones that exist."""
        try:
            return self.pipelines[name]
        except KeyError:
            known = sorted(self.pipelines)
            raise PipelineNotFoundError(
                f"Pipeline '{name}' is not defined in {self.settings.package_name}."
                + did_you_mean(name, known),
                hint=f"Defined pipelines: {', '.join(known) or 'none'}.",
            ) from None

    def run(
        self,
        pipeline_name: str = DEFAULT_PIPELINE,
        *,
        runner: Any = None,
        tags: Iterable[str] = (),
        node_names: Iterable[str] = (),
        from_nodes: Iterable[str] = (),
        to_nodes: Iterable[str] = (),
        from_inputs: Iterable[str] = (),
        to_outputs: Iterable[str] = (),
        run_id: str | None = None,
        cache: bool = True,
        refresh: Iterable[str] = (),
    ) -> RunResult:
        """Run a pipeline, or the slice of it that the filters select.

        In a project with versioned datasets, a node whose code, inputs and parameters
        are those of an earlier successful run is not run again: its outputs are restored
        from the node cache (docs/cache.md). ``cache=False`` runs every node (results are
        still remembered); nodes named in ``refresh`` run even on a cache hit.
        """
        selection = {
            "tags": tuple(tags),
            "node_names": tuple(node_names),
            "from_nodes": tuple(from_nodes),
            "to_nodes": tuple(to_nodes),
            "from_inputs": tuple(from_inputs),
            "to_outputs": tuple(to_outputs),
        }
        pipeline = _select(self.pipeline(pipeline_name), **selection)
        if not pipeline.nodes:
            raise PipelineError(
                f"Pipeline '{pipeline_name}' has no nodes, so there is nothing to run.",
                hint=f"Add a pipeline folder under src/{self.settings.package_name}/pipelines/ "
                "with a pipeline.py defining create_pipeline() (see docs/pipelines.md).",
            )
        refresh = tuple(refresh)
        _check_node_names(pipeline, refresh, "--refresh")
        runner = runner or SequentialRunner()
        run_id = run_id or new_run_id()
        run_params = {
            "project": self.settings.package_name,
            "project_root": str(self.settings.project_root),
            "env": self.settings.env,
            "pipeline_name": pipeline_name,
            "runner": type(runner).__name__,
            **{key: list(value) for key, value in selection.items() if value},
        }
        self.current_run_id = run_id
        try:
            return runner.run(
                pipeline,
                self.catalog,
                hooks=self.hooks,
                run_id=run_id,
                run_params=run_params,
                cache=self.node_cache(lookup=cache, refresh=refresh),
            )
        finally:
            self.current_run_id = None

    def node_cache(
        self, *, lookup: bool = True, refresh: Iterable[str] = ()
    ) -> ProjectNodeCache | None:
        """The project's node cache, or None when no dataset is versioned (then no
        output could be restored, so nothing is cached)."""
        if not self._uses_versioning(self.config.catalog):
            return None
        # Imported here: reading code digests is only needed when a run starts.
        from shipyard.project._cache import ProjectNodeCache, ResultIndex

        index = ResultIndex(self.settings.shipyard_dir / "node-cache.db")
        return ProjectNodeCache(self.catalog, index, lookup=lookup, refresh=refresh)

    def _project_hooks(self) -> tuple[object, ...]:
        module = load_project_module(self.settings.package_name, "settings")
        hooks = getattr(module, "HOOKS", ()) if module is not None else ()
        if not isinstance(hooks, list | tuple):
            raise ProjectError(
                f"HOOKS in {self.settings.package_name}/settings.py must be a tuple of hook "
                f"objects, not {type(hooks).__name__}.",
                hint="Write HOOKS = (MyHooks(),) with instances, not classes.",
            )
        return tuple(hooks)


def _select(pipeline: Pipeline, **selection: tuple[str, ...]) -> Pipeline:
    if selection["tags"]:
        pipeline = pipeline.only_nodes_with_tags(*selection["tags"])
    if selection["node_names"]:
        pipeline = pipeline.only_nodes(*selection["node_names"])
    if selection["from_nodes"]:
        pipeline = pipeline.from_nodes(*selection["from_nodes"])
    if selection["to_nodes"]:
        pipeline = pipeline.to_nodes(*selection["to_nodes"])
    if selection["from_inputs"]:
        pipeline = pipeline.from_inputs(*selection["from_inputs"])
    if selection["to_outputs"]:
        pipeline = pipeline.to_outputs(*selection["to_outputs"])
    return pipeline


def _check_node_names(pipeline: Pipeline, names: Iterable[str], option: str) -> None:
    known = {item.name for item in pipeline.nodes}
    for name in names:
        if name not in known:
            raise PipelineError(
                f"{option} names node '{name}', which is not in the pipeline being run."
                + did_you_mean(name, known),
                hint="`shipyard pipeline show` lists the nodes; give their full names "
                "(with namespace), comma-separated.",
            )


def _use_project_source(settings: Settings) -> None:
    """Put the project's src/ first on sys.path, forgetting a same-named package
    imported from another project earlier in this process (quickstart, notebooks, tests)."""
    source = str(settings.project_root / "src")
    if source in sys.path:
        sys.path.remove(source)
    sys.path.insert(0, source)
    package = settings.package_name
    loaded = sys.modules.get(package)
    loaded_from = getattr(loaded, "__file__", None) or ""
    if loaded is not None and not Path(loaded_from).resolve().is_relative_to(source):
        for module_name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module_name]
    importlib.invalidate_caches()
