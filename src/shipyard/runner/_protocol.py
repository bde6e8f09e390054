"""What a runner needs from a catalog, and nothing more.

The runner never imports ``shipyard.data``: any object with these six methods can feed a
run, which keeps the runner testable with a dict-backed catalog and open to other stores.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from shipyard.errors import RunnerError

__all__ = ["CatalogProtocol", "check_catalog"]


@runtime_checkable
class CatalogProtocol(Protocol):
    """The catalog interface runners use. ``shipyard.data.Catalog`` implements it.

    A minimal implementation keeps data in a dict::

        class DictCatalog:
            def __init__(self, data): self.data = dict(data)
            def load(self, name): return self.data[name]
            def save(self, name, data): self.data[name] = data
            def exists(self, name): return name in self.data
            def release(self, name): self.data.pop(name, None)
            def is_persistent(self, name): return False
            def __contains__(self, name): return name in self.data
    """

    def load(self, name: str) -> Any:
        """The data of dataset ``name``."""

    def save(self, name: str, data: Any) -> None:
        """Store ``data`` as dataset ``name``."""

    def exists(self, name: str) -> bool:
        """Whether dataset ``name`` has data."""

    def release(self, name: str) -> None:
        """Free any memory held for ``name``; the run no longer needs it."""

    def is_persistent(self, name: str) -> bool:
        """Whether ``name`` outlives the process (a file, a table), so a later run can
        start from it."""

    def __contains__(self, name: object) -> bool:
        """Whether the catalog can provide ``name``."""


_METHODS = ("load", "save", "exists", "release", "is_persistent", "__contains__")


def check_catalog(catalog: object) -> None:
    """Raise RunnerError naming the methods ``catalog`` lacks, if any."""
    missing = [method for method in _METHODS if not callable(getattr(catalog, method, None))]
    if missing:
        raise RunnerError(
            f"The catalog given to the runner ({type(catalog).__name__}) has no "
            f"{', '.join(missing)} method.",
            hint="Pass a shipyard.data.Catalog, or an object with the methods of "
            "shipyard.runner.CatalogProtocol.",
        )
