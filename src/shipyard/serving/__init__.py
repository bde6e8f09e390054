"""Serving registered models: the inference endpoint and batch prediction (docs/serving.md).

::

    shipyard serve models:/churn@champion --port 8080
    shipyard predict models:/churn@champion --input new.parquet --output scored.parquet

From Python, :func:`create_app` gives the ASGI app of a :class:`ModelServer`, for tests
or for mounting in an application of your own. Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:
    from shipyard.serving._app import create_app
    from shipyard.serving._batch import BatchResult, predict_file
    from shipyard.serving._config import ServingConfig, parse_serving_config
    from shipyard.serving._errors import RequestError
    from shipyard.serving._server import ModelServer, Served

__all__ = [
    "BatchResult",
    "ModelServer",
    "RequestError",
    "Served",
    "ServingConfig",
    "create_app",
    "parse_serving_config",
    "predict_file",
]

_LAZY = {
    "BatchResult": "shipyard.serving._batch",
    "ModelServer": "shipyard.serving._server",
    "RequestError": "shipyard.serving._errors",
    "Served": "shipyard.serving._server",
    "ServingConfig": "shipyard.serving._config",
    "create_app": "shipyard.serving._app",
    "parse_serving_config": "shipyard.serving._config",
    "predict_file": "shipyard.serving._batch",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
