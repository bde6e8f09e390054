"""Model packages, flavors and the model registry (docs/registry.md).

In a node, package the trained model; the catalog's ``type: model`` dataset stores it and,
with ``register: NAME``, registers every saved version::

    import shipyard.models

    def train(X, y):
        model = LogisticRegression().fit(X, y)
        return shipyard.models.package(model, example=X.head(), metrics={"auc": 0.91})

Anywhere in the project, load a registered model by reference::

    model = shipyard.load_model("models:/churn@champion")
    model.predict(new_customers)

Names are imported on first use: ``import shipyard.models`` loads no ML library.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:
    from shipyard.models._dataset import ModelDataset
    from shipyard.models._package import (
        LoadedModel,
        ModelPackage,
        PackageManifest,
        load_package,
        package,
        verify_package,
    )
    from shipyard.models._registry import ModelRegistry, Promotion
    from shipyard.models._signature import ColumnSpec, Signature, infer_signature
    from shipyard.models._uri import ModelRef, parse_model_ref

__all__ = [
    "ColumnSpec",
    "LoadedModel",
    "ModelDataset",
    "ModelPackage",
    "ModelRef",
    "ModelRegistry",
    "PackageManifest",
    "Promotion",
    "Signature",
    "infer_signature",
    "load_model",
    "load_package",
    "package",
    "parse_model_ref",
    "verify_package",
]

_LAZY = {
    "ColumnSpec": "shipyard.models._signature",
    "LoadedModel": "shipyard.models._package",
    "ModelDataset": "shipyard.models._dataset",
    "ModelPackage": "shipyard.models._package",
    "ModelRef": "shipyard.models._uri",
    "ModelRegistry": "shipyard.models._registry",
    "PackageManifest": "shipyard.models._package",
    "Promotion": "shipyard.models._registry",
    "Signature": "shipyard.models._signature",
    "infer_signature": "shipyard.models._signature",
    "load_package": "shipyard.models._package",
    "package": "shipyard.models._package",
    "parse_model_ref": "shipyard.models._uri",
    "verify_package": "shipyard.models._package",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


def load_model(
    ref: str, *, trusted: bool = False, project: str | Path | None = None
) -> LoadedModel:
    """The registered model ``ref`` names (``models:/churn@champion``, ``churn:3``), from
    the project at or above ``project`` (default: the current folder). Every file of the
    package is verified before anything is loaded; ``trusted=True`` allows packages that
    carry code (the ``python`` flavor)."""
    from shipyard.models._registry import ModelRegistry

    return ModelRegistry.for_project(project).load(ref, trusted=trusted)


def __dir__() -> list[str]:
    return sorted(__all__)
