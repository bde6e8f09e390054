"""A small dict-backed catalog: a real implementation of CatalogProtocol for runner tests.

It records every call in ``events`` so tests can check what the runner did and when.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any


class DictCatalog:
    """Datasets in a dict; ``persistent`` names pretend to outlive the process."""

    def __init__(self, data: Mapping[str, Any] = (), *, persistent: Iterable[str] = ()) -> None:
        self.data = dict(data)
        self.persistent = set(persistent)
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def load(self, name: str) -> Any:
        self._record("load", name)
        return self.data[name]

    def save(self, name: str, data: Any) -> None:
        self._record("save", name)
        with self._lock:
            self.data[name] = data

    def exists(self, name: str) -> bool:
        return name in self.data

    def release(self, name: str) -> None:
        self._record("release", name)
        if name not in self.persistent:
            with self._lock:
                self.data.pop(name, None)

    def is_persistent(self, name: str) -> bool:
        return name in self.persistent

    def __contains__(self, name: object) -> bool:
        return name in self.data

    def _record(self, action: str, name: str) -> None:
        with self._lock:
            self.events.append((action, name))
