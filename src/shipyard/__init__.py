"""Shipyard: the MLOps blueprint in one tool.

The public API is exactly ``__all__``. Apart from the pure ``node``/``pipeline``
algebra, names are imported on first use, so that ``import shipyard`` (and
``shipyard --help``) stays fast and pulls in neither pandas nor scikit-learn::

    from shipyard import node, pipeline

    def double(x):
        return 2 * x

    doubling = pipeline([node(double, "x", "y", name="double")])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.__about__ import __version__
from shipyard._lazy import lazy_getattr

# Eager, not lazy: `shipyard.pipeline` is both a subpackage and a function. Once the
# subpackage is imported anywhere, Python binds the module to this attribute and a lazy
# lookup would never run, so `from shipyard import pipeline` could return the module.
# The pipeline package is pure Python and cheap to import.
from shipyard.pipeline import Node, Pipeline, node, pipeline

if TYPE_CHECKING:  # for type checkers and IDEs only; runtime imports are lazy below
    from shipyard.config import ConfigLoader
    from shipyard.data import AbstractDataset, Catalog
    from shipyard.errors import ShipyardError
    from shipyard.models import load_model
    from shipyard.project import Session
    from shipyard.runner import ProcessRunner, SequentialRunner, ThreadRunner, hook_impl
    from shipyard.tracking import log_metric, log_metrics, log_params, start_run

__all__ = [
    "AbstractDataset",
    "Catalog",
    "ConfigLoader",
    "Node",
    "Pipeline",
    "ProcessRunner",
    "SequentialRunner",
    "Session",
    "ShipyardError",
    "ThreadRunner",
    "__version__",
    "hook_impl",
    "load_model",
    "log_metric",
    "log_metrics",
    "log_params",
    "node",
    "pipeline",
    "start_run",
]

_LAZY = {
    "AbstractDataset": "shipyard.data",
    "Catalog": "shipyard.data",
    "ConfigLoader": "shipyard.config",
    "ProcessRunner": "shipyard.runner",
    "SequentialRunner": "shipyard.runner",
    "Session": "shipyard.project",
    "ShipyardError": "shipyard.errors",
    "ThreadRunner": "shipyard.runner",
    "hook_impl": "shipyard.runner",
    "load_model": "shipyard.models",
    # `%load_ext shipyard` in IPython and Jupyter (not in __all__: not called directly)
    "load_ipython_extension": "shipyard.lab._extension",
    "unload_ipython_extension": "shipyard.lab._extension",
    "log_metric": "shipyard.tracking",
    "log_metrics": "shipyard.tracking",
    "log_params": "shipyard.tracking",
    "start_run": "shipyard.tracking",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
