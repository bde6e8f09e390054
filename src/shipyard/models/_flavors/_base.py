"""What a flavor is, and the few things every flavor needs: its library, its files.

A flavor saves one kind of model into the ``model/`` folder of a package in that
library's own format and loads it back. The package never names code to run: the
manifest names the flavor, and the flavor is looked up among the built-ins and the
``shipyard.flavors`` entry points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from shipyard._imports import require as require_module
from shipyard.errors import ModelError, UnsafePathError
from shipyard.objects import check_relpath

__all__ = ["Flavor", "defined_in", "detail_file", "distribution_of", "predictor_of", "require"]


@runtime_checkable
class Flavor(Protocol):
    """One way of saving and loading a kind of model.

    ``carries_code`` is True only for a flavor whose files are pickles (``python``):
    the loader inspects every other flavor's files for pickles before loading them.
    A flavor may also define ``predictor(model)``, returning an object whose
    ``predict(df)`` works, when the model it saves cannot predict from a DataFrame
    itself (an ONNX graph, an XGBoost Booster).
    """

    name: str
    carries_code: bool

    def handles(self, model: object) -> bool:
        """Whether ``model`` is of the kind this flavor saves (cheap; imports nothing)."""
        ...

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        """Write ``model`` into ``folder``; return the details the manifest keeps."""
        ...

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        """The model saved in ``folder`` with these details."""
        ...

    def library_version(self) -> str:
        """The version of the library that writes and reads the files."""
        ...

    def requirements(self) -> list[str]:
        """The distributions a package of this flavor needs to load."""
        ...


def predictor_of(flavor: Flavor, model: object) -> Any:
    """What predicts for ``model``: the flavor's ``predictor`` when it has one."""
    predictor = getattr(flavor, "predictor", None)
    return predictor(model) if callable(predictor) else model


def require(module: str, *, extra: str | None = None, install: str | None = None) -> ModuleType:
    """Import ``module``, or raise MissingDependencyError naming the Shipyard ``extra``
    that provides it (or, for a library no extra provides, the ``install`` command)."""
    return require_module(
        module, purpose=f"A model of this flavor ({module})", extra=extra, install=install
    )


def defined_in(model: object, package: str) -> bool:
    """Whether ``model``'s class, or a class it derives from, comes from ``package``;
    answered from module names, so nothing is imported."""
    return any(cls.__module__.partition(".")[0] == package for cls in type(model).__mro__)


def detail_file(folder: Path, details: Mapping[str, Any], key: str = "file") -> Path:
    """The file ``details[key]`` names inside ``folder``, refused when the name is not
    a safe relative path (a manifest may come from someone else)."""
    name = details.get(key)
    if not isinstance(name, str):
        raise ModelError(
            f"The flavor details of the package at {folder.parent} have no file name "
            f"under {key!r} (found {name!r}).",
            hint="The manifest is damaged; register the model again from its run.",
        )
    try:
        check_relpath(name)
    except UnsafePathError as exc:
        raise ModelError(
            f"The flavor details of the package at {folder.parent} name the file {name!r}: "
            f"{exc.message}",
            hint="Do not load this package: its manifest points outside its folder.",
        ) from exc
    return folder / name


def distribution_of(module: str) -> str:
    """The installed distribution that provides ``module`` (``xgboost-cpu`` for
    ``xgboost``), or the module's name when none is known."""
    from importlib.metadata import packages_distributions

    return (packages_distributions().get(module) or [module])[0]


def booster_kind(library: ModuleType, model: object, kinds: Sequence[str]) -> str:
    """``"Booster"``, or which of the library's scikit-learn classes ``kinds`` the model
    is (the xgboost and lightgbm flavors); ModelError for anything else."""
    if isinstance(model, library.Booster):
        return "Booster"
    kind = next((k for k in kinds if isinstance(model, getattr(library, k))), None)
    if kind is None:
        raise ModelError(
            f"The {library.__name__} flavor saves a Booster or one of {', '.join(kinds)}, "
            f"not a {type(model).__name__}.",
            hint='Package the model with flavor="python" instead.',
        )
    return kind


def checked_kind(
    library: ModuleType, folder: Path, details: Mapping[str, Any], kinds: Sequence[str]
) -> str:
    """The ``kind`` a stored package names, refused when it is not one the flavor makes."""
    kind = details.get("kind")
    if kind != "Booster" and kind not in kinds:
        raise ModelError(
            f"The {library.__name__} package at {folder.parent} names the unknown kind {kind!r}.",
            hint=f"Known kinds: Booster, {', '.join(kinds)}; register the model again.",
        )
    return kind
