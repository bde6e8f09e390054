"""The ``xgboost`` flavor: XGBoost models in XGBoost's own JSON format.

The scikit-learn API models (XGBClassifier, XGBRegressor, ...) keep their classes and
feature names in that JSON, so they come back as themselves. A bare Booster comes back
wrapped in :class:`BoosterModel`, whose ``predict`` takes a DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.models._flavors._base import (
    booster_kind,
    checked_kind,
    defined_in,
    detail_file,
    distribution_of,
    require,
)

__all__ = ["BoosterModel", "XGBoostFlavor"]

_FILE = "model.json"
# The classes a package may name (the manifest only picks one), subclasses first.
_KINDS = ("XGBRFClassifier", "XGBRFRegressor", "XGBClassifier", "XGBRegressor", "XGBRanker")


class BoosterModel:
    """An ``xgboost.Booster`` that predicts from a DataFrame; ``booster`` is the raw one."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, df: Any) -> Any:
        xgboost = require("xgboost")
        return self.booster.predict(xgboost.DMatrix(df, enable_categorical=True))


class XGBoostFlavor:
    """XGBoost Boosters and scikit-learn API models, saved with ``save_model`` as JSON."""

    name = "xgboost"
    carries_code = False

    def handles(self, model: object) -> bool:
        return isinstance(model, BoosterModel) or defined_in(model, "xgboost")

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        xgboost = require("xgboost")
        booster = model.booster if isinstance(model, BoosterModel) else model
        kind = booster_kind(xgboost, booster, _KINDS)
        booster.save_model(str(folder / _FILE))  # type: ignore[attr-defined]
        return {"file": _FILE, "kind": kind}

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        xgboost = require("xgboost")
        kind = checked_kind(xgboost, folder, details, _KINDS)
        model = getattr(xgboost, kind)()
        model.load_model(str(detail_file(folder, details)))
        return BoosterModel(model) if kind == "Booster" else model

    def predictor(self, model: object) -> object:
        """A Booster predicts from a DMatrix only: wrapped, it takes a DataFrame."""
        xgboost = require("xgboost")
        return BoosterModel(model) if isinstance(model, xgboost.Booster) else model

    def library_version(self) -> str:
        return require("xgboost").__version__

    def requirements(self) -> list[str]:
        return [distribution_of("xgboost")]
