"""Runners execute a pipeline's nodes against a catalog; hooks let plugins watch and act.

>>> from shipyard.runner import SequentialRunner, create_hook_manager
>>> hooks = create_hook_manager()
>>> result = SequentialRunner().run(training, catalog, hooks=hooks)  # doctest: +SKIP
>>> result.completed  # doctest: +SKIP
('clean', 'train')

The runner talks to the catalog only through ``CatalogProtocol``; it never imports
``shipyard.data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:  # for type checkers and IDEs only; runtime imports are lazy below
    from shipyard.runner._cache import CacheHit, NodeCache
    from shipyard.runner._hooks import HookSpecs, create_hook_manager, hook_impl, hook_spec
    from shipyard.runner._pool import ThreadRunner
    from shipyard.runner._process import ProcessRunner
    from shipyard.runner._protocol import CatalogProtocol
    from shipyard.runner._run_id import new_run_id
    from shipyard.runner._runner import Runner, RunResult
    from shipyard.runner._sequential import SequentialRunner

# Imported by name on first use: opening a session needs the hooks, not the pool runners
# (and their concurrent.futures, pickle and multiprocessing imports).
_LAZY = {
    "CacheHit": "._cache",
    "CatalogProtocol": "._protocol",
    "HookSpecs": "._hooks",
    "NodeCache": "._cache",
    "ProcessRunner": "._process",
    "RunResult": "._runner",
    "Runner": "._runner",
    "SequentialRunner": "._sequential",
    "ThreadRunner": "._pool",
    "create_hook_manager": "._hooks",
    "hook_impl": "._hooks",
    "hook_spec": "._hooks",
    "new_run_id": "._run_id",
}

__all__ = [
    "CacheHit",
    "CatalogProtocol",
    "HookSpecs",
    "NodeCache",
    "ProcessRunner",
    "RunResult",
    "Runner",
    "SequentialRunner",
    "ThreadRunner",
    "create_hook_manager",
    "hook_impl",
    "hook_spec",
    "new_run_id",
]


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
