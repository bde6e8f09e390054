"""Packages whose public names are imported on first use (PEP 562).

A command imports only what it touches: ``from shipyard.runner import hook_impl`` loads
the hooks module, not the process pool.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each of ``names`` (name ->
    module, relative to ``package`` when it starts with a dot) when first asked for, and
    keeps it in the package, so later lookups cost nothing.

    >>> __getattr__ = lazy_getattr(__name__, {"Session": "._session"})  # doctest: +SKIP
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
