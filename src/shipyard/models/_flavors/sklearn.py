"""The ``sklearn`` flavor: scikit-learn models in skops files, loaded through an allow-list.

A skops file lists the type of every object in it, and skops builds only the types it is
told to trust. Which types Shipyard trusts is decided here, in code, never by the package:
scikit-learn's public estimators and the internal types that fitted common models hold
(found with ``skops.io.get_untrusted_types`` over every estimator scikit-learn ships).
A file that asks for anything else is refused before a single object is built.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ModelError, UnsafeModelError
from shipyard.models._flavors._base import detail_file, require

__all__ = ["SklearnFlavor", "allowed_types"]

_FILE = "model.skops"

# Fitted models hold these besides estimators: tree structures, neighbour indexes and their
# metrics, optimizers, kernels, losses, score functions and sparse matrices. They hold data
# and run no code of the file's choosing. The tree types index their nodes without bounds
# checks, so a forged file can crash a prediction; package digests and the registry's trust
# decide whose files are loaded at all.
_INTERNAL_TYPES = frozenset(
    {
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.cluster._bisect_k_means._BisectingTree",
        "sklearn.cluster._kmeans._kmeans_single_lloyd",
        "sklearn.cluster._kmeans._kmeans_single_elkan",
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
        *(
            f"sklearn.gaussian_process.kernels.{kernel}"
            for kernel in (
                "ConstantKernel",
                "DotProduct",
                "ExpSineSquared",
                "Exponentiation",
                "Matern",
                "PairwiseKernel",
                "Product",
                "RBF",
                "RationalQuadratic",
                "Sum",
                "WhiteKernel",
            )
        ),
    }
)


@functools.cache
def allowed_types() -> frozenset[str]:
    """Every type name a sklearn package may hold: scikit-learn's public estimators and
    transformers (pipelines and column transformers included) and :data:`_INTERNAL_TYPES`."""
    from sklearn.utils import all_estimators

    estimators = {f"{cls.__module__}.{cls.__qualname__}" for _, cls in all_estimators()}
    return frozenset(estimators | _INTERNAL_TYPES)


@functools.cache
def _allowed_list() -> list[str]:
    return sorted(allowed_types())


class SklearnFlavor:
    """scikit-learn estimators and pipelines, stored with skops (no pickle)."""

    name = "sklearn"
    carries_code = False

    def handles(self, model: object) -> bool:
        return type(model).__module__.partition(".")[0] == "sklearn"

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        skops_io = require("skops.io", install="skops")
        path = folder / _FILE
        try:
            skops_io.dump(model, path)
        except (TypeError, NotImplementedError) as exc:
            raise ModelError(
                f"skops cannot store the {type(model).__name__} model: {exc}",
                hint='Package it with flavor="python" (cloudpickle; it then loads only '
                "when trusted).",
            ) from exc
        refused = _refused(skops_io.get_untrusted_types(file=path))
        if refused:
            raise ModelError(
                f"The {type(model).__name__} model holds types outside Shipyard's allow-list "
                f"for sklearn packages: {', '.join(refused)}. Loading it would run their code.",
                hint='Package it with flavor="python" (cloudpickle): it then loads only with '
                "trusted=True or when a governance officer marks the version trusted.",
            )
        return {"file": _FILE}

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        skops_io = require("skops.io", install="skops")
        from skops.io.exceptions import UntrustedTypesFoundException

        path = detail_file(folder, details)
        if trusted:
            found = skops_io.get_untrusted_types(file=path)
            return skops_io.load(path, trusted=sorted(allowed_types() | set(found)))
        try:
            # skops audits the file against the list before it builds anything; auditing
            # once here, not also up front, is a quarter of a load
            return skops_io.load(path, trusted=_allowed_list())
        except UntrustedTypesFoundException:
            refused = _refused(skops_io.get_untrusted_types(file=path))
        raise UnsafeModelError(
            f"The sklearn model {path} asks for types outside Shipyard's allow-list: "
            f"{', '.join(refused)}. Building them could run code of the file's choosing, "
            "so it was not loaded."
        )

    def library_version(self) -> str:
        import sklearn

        return sklearn.__version__

    def requirements(self) -> list[str]:
        return ["scikit-learn", "skops"]


def _refused(found: list[str]) -> list[str]:
    return sorted(set(found) - allowed_types())
