"""Hooks: the points of a run where plugins (tracking, progress, your own code) can act.

Hooks are pluggy hooks of the project ``shipyard``. The runner calls every hook with
keyword arguments, and pluggy hands each implementation only the arguments it names, so
an implementation may take any subset, in any order, and keeps working when a later
version passes more arguments.
"""

from __future__ import annotations

from typing import Any

import pluggy

from shipyard.errors import RunnerError
from shipyard.pipeline import Node, Pipeline

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActiveHooks",
    "HookSpecs",
    "create_hook_manager",
    "hook_impl",
    "hook_spec",
]

PROJECT = "shipyard"
ENTRY_POINT_GROUP = "shipyard.hooks"

hook_spec = pluggy.HookspecMarker(PROJECT)
hook_impl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """Every hook a run calls, in the order they fire. Implement any of them in a class
    whose methods carry ``@hook_impl``; name only the arguments you use."""

    @hook_spec
    def after_catalog_created(self, catalog: Any) -> None:
        """The session built its catalog (before any run)."""

    @hook_spec
    def before_pipeline_run(
        self, run_id: str, pipeline: Pipeline, catalog: Any, run_params: dict[str, Any]
    ) -> None:
        """A run is about to start its first node."""

    @hook_spec
    def before_dataset_loaded(self, run_id: str, dataset_name: str, node: Node) -> None:
        """``node`` is about to load input ``dataset_name``."""

    @hook_spec
    def after_dataset_loaded(
        self, run_id: str, dataset_name: str, data: Any, node: Node, duration_s: float
    ) -> None:
        """Input ``dataset_name`` of ``node`` was loaded in ``duration_s`` seconds."""

    @hook_spec
    def before_node_run(
        self, run_id: str, node: Node, catalog: Any, inputs: dict[str, Any]
    ) -> None:
        """``node`` is about to run on ``inputs`` (dataset name -> data)."""

    @hook_spec
    def after_node_run(  # noqa: PLR0917 (pluggy passes hook arguments by position)
        self,
        run_id: str,
        node: Node,
        catalog: Any,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        duration_s: float,
    ) -> None:
        """``node``'s function returned ``outputs`` after ``duration_s`` seconds."""

    @hook_spec
    def after_node_cache_hit(  # noqa: PLR0917 (pluggy passes hook arguments by position)
        self,
        run_id: str,
        node: Node,
        catalog: Any,
        fingerprint: str,
        source_run_id: str | None,
        duration_s: float,
    ) -> None:
        """``node`` did not run: its outputs, computed by run ``source_run_id`` for the same
        ``fingerprint``, were restored from the node cache in ``duration_s`` seconds.
        ``before_node_run`` and ``after_node_run`` do not fire for such a node."""

    @hook_spec
    def on_node_error(
        self, run_id: str, node: Node, catalog: Any, inputs: dict[str, Any], error: BaseException
    ) -> None:
        """``node`` failed with ``error`` (the original exception) while loading, running
        or saving."""

    @hook_spec
    def before_dataset_saved(self, run_id: str, dataset_name: str, data: Any, node: Node) -> None:
        """``node`` is about to save output ``dataset_name``."""

    @hook_spec
    def after_dataset_saved(
        self, run_id: str, dataset_name: str, data: Any, node: Node, duration_s: float
    ) -> None:
        """Output ``dataset_name`` of ``node`` was saved in ``duration_s`` seconds."""

    @hook_spec
    def after_pipeline_run(  # noqa: PLR0917 (pluggy passes hook arguments by position)
        self,
        run_id: str,
        pipeline: Pipeline,
        catalog: Any,
        run_params: dict[str, Any],
        duration_s: float,
        result: Any,
    ) -> None:
        """Every node ran; ``result`` is the RunResult the runner returns."""

    @hook_spec
    def on_pipeline_error(
        self,
        run_id: str,
        pipeline: Pipeline,
        catalog: Any,
        run_params: dict[str, Any],
        error: BaseException,
    ) -> None:
        """The run stopped with ``error`` (the exception the runner is about to raise)."""


def create_hook_manager(*plugins: object, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A hook manager with ``plugins`` and, unless ``load_entry_points=False``, every
    plugin installed under the ``shipyard.hooks`` entry point group.

    >>> class Timer:
    ...     @hook_impl
    ...     def after_node_run(self, node, duration_s):
    ...         print(f"{node.name}: {duration_s:.2f}s")
    >>> hooks = create_hook_manager(Timer(), load_entry_points=False)
    """
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    try:
        for plugin in plugins:
            if not manager.is_registered(plugin):
                manager.register(plugin)
        if load_entry_points:
            _load_entry_points(manager)
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise RunnerError(
            f"Hook plugin {exc.plugin!r} is not valid: {exc}",
            hint="Name each @hook_impl method after a hook of shipyard.runner.HookSpecs and "
            "give it only arguments that hook has (any subset, no default values).",
        ) from exc
    return manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    from shipyard._entry_points import entry_points

    for entry_point in entry_points(ENTRY_POINT_GROUP):
        if manager.get_plugin(entry_point.name) or manager.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            package = entry_point.dist or "an installed package"
            raise RunnerError(
                f"Hook plugin '{entry_point.name}' ({entry_point.value}) from {package} "
                f"could not be loaded: {type(exc).__name__}: {exc}",
                hint=f"Fix or uninstall {package}; it registers hooks for every Shipyard run.",
            ) from exc
        manager.register(plugin, name=entry_point.name)


class ActiveHooks:
    """The hook callers a run needs, looked up once per run; hooks that no plugin
    implements are None, so the runner skips them without building their arguments."""

    __slots__ = (
        "after_dataset_loaded",
        "after_dataset_saved",
        "after_node_cache_hit",
        "after_node_run",
        "after_pipeline_run",
        "before_dataset_loaded",
        "before_dataset_saved",
        "before_node_run",
        "before_pipeline_run",
        "on_node_error",
        "on_pipeline_error",
    )

    def __init__(self, manager: pluggy.PluginManager | None) -> None:
        if manager is not None and not isinstance(manager, pluggy.PluginManager):
            raise RunnerError(
                f"hooks= takes a hook manager, not {type(manager).__name__}.",
                hint="Build one with shipyard.runner.create_hook_manager(MyHooks()).",
            )
        for name in self.__slots__:
            caller = getattr(manager.hook, name, None) if manager is not None else None
            setattr(self, name, caller if caller is not None and caller.get_hookimpls() else None)
