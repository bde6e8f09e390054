"""Data kept in memory for the length of a run: the catalog's default for unnamed outputs."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from shipyard.data._content import value_digest
from shipyard.data._dataset import AbstractDataset
from shipyard.errors import DatasetError, did_you_mean

if TYPE_CHECKING:
    from shipyard.objects import Digest, StatCache

COPY_MODES = ("assign", "copy", "deepcopy")


class _NoData:
    """Marks a memory dataset that holds nothing (never saved, or released)."""

    def __repr__(self) -> str:
        return "<no data>"


NO_DATA: Any = _NoData()


class MemoryDataset(AbstractDataset):
    """Holds one object in memory (``type: memory``; Kedro: ``MemoryDataset``).

    ``copy_mode`` says what ``save`` and ``load`` hand over:

    - ``assign`` (the default, also for ``None``): the object itself. Nothing is copied,
      which keeps the runner fast; a node that mutates its input changes it for later
      nodes too.
    - ``copy``: a shallow ``copy.copy`` (for a DataFrame, ``DataFrame.copy()``).
    - ``deepcopy``: ``copy.deepcopy``, for nodes that mutate nested inputs in place.

    >>> numbers = MemoryDataset([1, 2], copy_mode="deepcopy")
    >>> numbers.load() is numbers.load()
    False
    """

    persistent = False
    _type_name = "memory"

    def __init__(self, data: Any = NO_DATA, *, copy_mode: str | None = None) -> None:
        mode = copy_mode or "assign"
        if mode not in COPY_MODES:
            raise DatasetError(
                f"Unknown copy_mode '{copy_mode}'." + did_you_mean(str(copy_mode), COPY_MODES),
                hint=f"Set `copy_mode` to one of: {', '.join(COPY_MODES)}.",
            )
        self._copy_mode = mode
        self._copy = {"assign": None, "copy": copy.copy, "deepcopy": copy.deepcopy}[mode]
        self._data = NO_DATA
        if data is not NO_DATA:
            self._save(data)

    def _load(self) -> Any:
        data = self._data
        if data is NO_DATA:
            raise DatasetError(
                f"Dataset {self._label()} has no data: it lives in memory and nothing has "
                "saved it in this run (or it was already released).",
                hint=(
                    "Run the node that outputs it in the same run, or give it a catalog entry "
                    "with a file type (csv, parquet, ...) so it persists between runs."
                ),
            )
        return data if self._copy is None else self._copy(data)

    def _save(self, data: Any) -> None:
        self._data = data if self._copy is None else self._copy(data)

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        """The digest of the data when it is small plain data (parameters), else None."""
        return None if self._data is NO_DATA else value_digest(self._data)

    def _exists(self) -> bool:
        return self._data is not NO_DATA

    def _release(self) -> None:
        self._data = NO_DATA

    def _describe(self) -> dict[str, Any]:
        data = self._data
        return {
            "copy_mode": self._copy_mode,
            "data": None if data is NO_DATA else type(data).__qualname__,
        }

    def _target(self) -> str:
        return "memory"
