"""The ``lightgbm`` flavor: LightGBM models in LightGBM's own text format.

A Booster comes back as itself (its ``predict`` takes a DataFrame). A scikit-learn API
model (LGBMClassifier, LGBMRegressor, LGBMRanker) is stored as its booster plus what the
text format lacks, kept in the manifest: its plain parameters and, for a classifier, its
classes. It comes back as the same class with the state ``fit`` would have left, so
``predict`` and ``predict_proba`` work as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ModelError
from shipyard.models._flavors._base import (
    booster_kind,
    checked_kind,
    defined_in,
    detail_file,
    require,
)

__all__ = ["LightGBMFlavor"]

_FILE = "model.txt"
_KINDS = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_DEFAULT_FEATURE = re.compile(r"Column_\d+")


class LightGBMFlavor:
    """LightGBM Boosters and scikit-learn API models, saved with ``save_model`` as text."""

    name = "lightgbm"
    carries_code = False

    def handles(self, model: object) -> bool:
        return defined_in(model, "lightgbm")

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        lightgbm = require("lightgbm")
        details: dict[str, Any] = {"file": _FILE}
        kind = details["kind"] = booster_kind(lightgbm, model, _KINDS)
        if kind == "Booster":
            booster = model
        else:
            booster = model.booster_  # type: ignore[attr-defined]
            details |= {"kind": kind, "params": _plain_params(model.get_params())}  # type: ignore[attr-defined]
            if kind == "LGBMClassifier":
                details["classes"] = model.classes_.tolist()  # type: ignore[attr-defined]
        booster.save_model(str(folder / _FILE))
        return details

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        lightgbm = require("lightgbm")
        kind = checked_kind(lightgbm, folder, details, _KINDS)
        booster = lightgbm.Booster(model_file=str(detail_file(folder, details)))
        if kind == "Booster":
            return booster
        return _restored(lightgbm, kind, booster, details)

    def library_version(self) -> str:
        return require("lightgbm").__version__

    def requirements(self) -> list[str]:
        return ["lightgbm"]


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a manifest can hold (a callable objective cannot, and is not
    needed to predict: the booster knows its objective)."""
    return {
        key: value
        for key, value in params.items()
        if value is None or isinstance(value, str | int | float | bool)
    }


def _restored(lightgbm: Any, kind: str, booster: Any, details: Mapping[str, Any]) -> Any:
    """A scikit-learn API model around ``booster``, with the state ``fit`` leaves.

    LightGBM has no public way to do this; these are the attributes its ``fit`` sets, and
    the flavor's round-trip test fails on a LightGBM release that changes them.
    """
    params = details.get("params") or {}
    model = getattr(lightgbm, kind)(**params)
    model._Booster = booster
    model._n_features = model._n_features_in = booster.num_feature()
    model._fitted_with_feature_names = not all(
        _DEFAULT_FEATURE.fullmatch(name) for name in booster.feature_name()
    )
    model._objective = params.get("objective") or booster.params.get("objective")
    if kind == "LGBMClassifier":
        import numpy as np

        classes = details.get("classes")
        if not isinstance(classes, list) or not classes:
            raise ModelError(
                f"The lightgbm classifier package lists no classes (found {classes!r}).",
                hint="The manifest is damaged; register the model again from its run.",
            )
        encoder = lightgbm.sklearn._LGBMLabelEncoder().fit(np.asarray(classes))
        model._le, model._classes = encoder, encoder.classes_
        model._n_classes = len(encoder.classes_)
        model._class_map = dict(zip(encoder.classes_, range(model._n_classes), strict=True))
    model.fitted_ = True
    return model
