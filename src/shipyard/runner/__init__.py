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

from shipyard.runner._cache import CacheHit, NodeCache
from shipyard.runner._hooks import HookSpecs, create_hook_manager, hook_impl, hook_spec
from shipyard.runner._pool import ThreadRunner
from shipyard.runner._process import ProcessRunner
from shipyard.runner._protocol import CatalogProtocol
from shipyard.runner._run_id import new_run_id
from shipyard.runner._runner import Runner, RunResult
from shipyard.runner._sequential import SequentialRunner

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
