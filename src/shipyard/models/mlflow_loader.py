"""MLflow's ``python_function`` loader for folders written by ``shipyard models export
--format mlflow``: ``mlflow.pyfunc.load_model(folder)`` calls :func:`_load_pyfunc` with the
path of the Shipyard package inside the folder.

The package is verified (every file's digest) before anything is loaded, as everywhere in
Shipyard. Packages that carry code (the ``python`` flavor) are refused here: MLflow gives
no way to say they are trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipyard.models._package import LoadedModel, load_package

__all__ = ["_load_pyfunc"]


class _PyFuncModel:
    """What MLflow's PyFuncModel wraps: ``predict(data, params=None)``."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data)


def _load_pyfunc(path: str) -> _PyFuncModel:
    """MLflow's entry point: load the Shipyard package at ``path``."""
    return _PyFuncModel(load_package(Path(path)))
