"""Model flavors found by name: the built-ins, then the ``shipyard.flavors`` entry points.

Each built-in is a small module imported on first use, so packaging a scikit-learn model
never imports xgboost. A third-party distribution adds a flavor by declaring an entry
point in the ``shipyard.flavors`` group whose value is a class (or an instance) with the
:class:`Flavor` members.

>>> get_flavor("sklearn").name
'sklearn'
"""

from __future__ import annotations

import functools
import importlib

from shipyard._entry_points import entry_points
from shipyard.errors import ModelError, did_you_mean
from shipyard.models._flavors._base import Flavor

__all__ = ["Flavor", "flavor_for", "flavor_names", "get_flavor"]

_GROUP = "shipyard.flavors"
_BUILT_INS = {
    "xgboost": ("shipyard.models._flavors.xgboost", "XGBoostFlavor"),
    "lightgbm": ("shipyard.models._flavors.lightgbm", "LightGBMFlavor"),
    "onnx": ("shipyard.models._flavors.onnx", "OnnxFlavor"),
    "sklearn": ("shipyard.models._flavors.sklearn", "SklearnFlavor"),
    "python": ("shipyard.models._flavors.python", "PythonFlavor"),
}
# flavor_for asks these in order; xgboost and lightgbm models are sklearn estimators too.
_DETECTION_ORDER = ("xgboost", "lightgbm", "onnx", "sklearn")
_MEMBERS = ("name", "carries_code", "handles", "save", "load", "library_version", "requirements")


@functools.cache
def _built_in(name: str) -> Flavor:
    module, attribute = _BUILT_INS[name]
    return getattr(importlib.import_module(module), attribute)()


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``; an unknown name is a ModelError listing the known ones."""
    if name in _BUILT_INS:
        return _built_in(name)
    for point in entry_points(_GROUP):
        if point.name == name:
            return _third_party(name, point.load(), point.dist)
    known = flavor_names()
    raise ModelError(
        f"Unknown model flavor {name!r}." + did_you_mean(name, known),
        hint=f"Known flavors: {', '.join(known)}. A third-party flavor is installed as a "
        f"package that declares it in the {_GROUP!r} entry-point group.",
    )


def _third_party(name: str, loaded: object, dist: str | None) -> Flavor:
    flavor = loaded() if isinstance(loaded, type) else loaded
    missing = [member for member in _MEMBERS if not hasattr(flavor, member)]
    if missing:
        raise ModelError(
            f"The model flavor {name!r} from {dist or 'an installed package'} lacks "
            f"{', '.join(missing)}.",
            hint="Update or uninstall that package; a flavor needs every member of "
            "shipyard.models.Flavor.",
        )
    return flavor  # type: ignore[return-value]


def flavor_for(model: object) -> Flavor:
    """The first built-in flavor that handles ``model``, else ``python`` (cloudpickle)."""
    for name in _DETECTION_ORDER:
        flavor = _built_in(name)
        if flavor.handles(model):
            return flavor
    return _built_in("python")


def flavor_names() -> list[str]:
    """The built-in flavors, then the installed third-party ones."""
    names = list(_BUILT_INS)
    names += sorted({p.name for p in entry_points(_GROUP) if p.name not in _BUILT_INS})
    return names
