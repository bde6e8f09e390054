"""Optional dependencies, imported by the function that needs them (DESIGN.md)."""

from __future__ import annotations

import importlib
from types import ModuleType

from shipyard.errors import MissingDependencyError

__all__ = ["require"]


def require(
    module: str, *, purpose: str, extra: str | None = None, install: str | None = None
) -> ModuleType:
    """Import ``module``, or raise MissingDependencyError saying that ``purpose`` needs it
    and naming the Shipyard ``extra`` that provides it (or, for a library no extra
    provides, the ``install`` command)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = MissingDependencyError(module.partition(".")[0], extra or "", purpose=purpose)
        if extra is None:
            error.hint = f"Install it with: pip install {install or module}"
        raise error from exc
