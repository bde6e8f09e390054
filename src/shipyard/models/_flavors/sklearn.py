"""The ``sklearn`` flavor: scikit-learn models in skops files, loaded through an allow-list.

A skops file lists the type of every object in it, and skops builds only the types it is
told to trust. Which types Shipyard trusts is decided here, in code, never by the package:
scikit-learn's public estimators and the internal types that fitted common models hold
(found with ``skops.io.get_untrusted_types`` over every estimator scikit-learn ships).
A file that asks for anything else is refused before a single object is built. Each
type name is judged on its own (:func:`is_allowed`), so loading a linear model does not
import the whole of scikit-learn.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from shipyard.errors import ModelError, UnsafeModelError
from shipyard.models._flavors._base import detail_file, require

__all__ = ["SklearnFlavor", "is_allowed", "skops_io"]

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


# all_estimators() skips these packages; so does the allow-list.
_IGNORED_PARTS = frozenset({"tests", "externals", "setup", "conftest", "experimental"})
_TYPE_NAME = re.compile(r"sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+")


@functools.cache
def is_allowed(type_name: str) -> bool:
    """Whether a sklearn package may hold an object of ``type_name``: one of the internal
    types above, or a concrete public scikit-learn estimator exported by a public module,
    which is what ``sklearn.utils.all_estimators()`` lists. It is judged one name at a
    time, so loading a model imports only its own modules, not all of scikit-learn."""
    if type_name in _INTERNAL_TYPES:
        return True
    module_name, _, class_name = type_name.rpartition(".")
    public = module_name.split("._", 1)[0]
    if (
        not _TYPE_NAME.fullmatch(type_name)
        or class_name.startswith("_")
        or _IGNORED_PARTS.intersection(module_name.split("."))
    ):
        return False
    from sklearn.base import BaseEstimator

    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        exported = getattr(importlib.import_module(public), class_name, None)
    except (ImportError, AttributeError):
        return False
    return (
        exported is cls
        and isinstance(cls, type)
        and issubclass(cls, BaseEstimator)
        and cls is not BaseEstimator
        and not getattr(cls, "__abstractmethods__", None)
    )


def skops_io() -> ModuleType:
    """``skops.io``, imported without the list of every scikit-learn estimator that skops
    builds at import for its default trust, which imports all of scikit-learn (about 2 s
    on a small machine, most of a server's cold start). Shipyard never relies on that
    default: every load and check passes the types :func:`is_allowed` accepts."""
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    import sklearn.utils

    everything = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    try:
        return require("skops.io", install="skops")
    finally:
        sklearn.utils.all_estimators = everything


class SklearnFlavor:
    """scikit-learn estimators and pipelines, stored with skops (no pickle)."""

    name = "sklearn"
    carries_code = False

    def handles(self, model: object) -> bool:
        return type(model).__module__.partition(".")[0] == "sklearn"

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        skops = skops_io()
        path = folder / _FILE
        try:
            skops.dump(model, path)
        except (TypeError, NotImplementedError) as exc:
            raise ModelError(
                f"skops cannot store the {type(model).__name__} model: {exc}",
                hint='Package it with flavor="python" (cloudpickle; it then loads only '
                "when trusted).",
            ) from exc
        refused = _refused(skops.get_untrusted_types(file=path))
        if refused:
            raise ModelError(
                f"The {type(model).__name__} model holds types outside Shipyard's allow-list "
                f"for sklearn packages: {', '.join(refused)}. Loading it would run their code.",
                hint='Package it with flavor="python" (cloudpickle): it then loads only with '
                "trusted=True or when a governance officer marks the version trusted.",
            )
        return {"file": _FILE}

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        skops = skops_io()
        from skops.io.exceptions import UntrustedTypesFoundException

        path = detail_file(folder, details)
        if not trusted:
            # skops audits the file against the list before it builds anything. Types
            # judged allowed before usually cover a model loaded again: one audit, not two.
            try:
                return skops.load(path, trusted=_ALLOWED_SO_FAR.names())
            except UntrustedTypesFoundException:
                pass
        found = skops.get_untrusted_types(file=path)
        refused = [] if trusted else _refused(found)
        if refused:
            raise UnsafeModelError(
                f"The sklearn model {path} asks for types outside Shipyard's allow-list: "
                f"{', '.join(refused)}. Building them could run code of the file's choosing, "
                "so it was not loaded."
            )
        return skops.load(path, trusted=found)

    def library_version(self) -> str:
        import sklearn

        return sklearn.__version__

    def requirements(self) -> list[str]:
        return ["scikit-learn", "skops"]


class _AllowedSoFar:
    """The type names :func:`is_allowed` accepted in this process, as skops' list."""

    def __init__(self) -> None:
        self._names: list[str] = sorted(_INTERNAL_TYPES)

    def names(self) -> list[str]:
        return self._names

    def add(self, names: list[str]) -> None:
        new = set(names) - set(self._names)
        if new:
            self._names = sorted(new.union(self._names))


_ALLOWED_SO_FAR = _AllowedSoFar()


def _refused(found: list[str]) -> list[str]:
    refused = sorted(name for name in found if not is_allowed(name))
    _ALLOWED_SO_FAR.add([name for name in found if name not in refused])
    return refused
