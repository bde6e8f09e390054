"""Digests of what a dataset holds, when they can be had without loading it.

The node cache fingerprints a node by the digests of its inputs. A local file is hashed
through the stat cache (so an unchanged file costs one ``stat``), a local folder is a
tree manifest of such digests, and a small plain value (parameters) is hashed as
canonical JSON. Anything else has no cheap digest, and the node reading it is not
cached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shipyard.objects import Digest, StatCache, hash_bytes, hash_file, tree_digest

__all__ = ["file_digest", "folder_digest", "value_digest"]

#: Plain values with more items than this are not hashed: walking them is not cheap.
MAX_VALUE_ITEMS = 100_000


def file_digest(path: str | Path, stat_cache: StatCache | None) -> Digest | None:
    """The digest of the local file at ``path``, or None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    return stat_cache.hash_file(path) if stat_cache is not None else hash_file(path)


def folder_digest(path: str | Path, stat_cache: StatCache | None) -> Digest | None:
    """The digest of the tree manifest of the local folder at ``path`` (what storing it
    would name it), or None when there is no such folder."""
    path = Path(path)
    if not path.is_dir():
        return None
    return tree_digest(path, stat_cache=stat_cache)


def value_digest(value: Any) -> Digest | None:
    """The digest of ``value`` as canonical JSON when it is plain data (None, bool, int,
    float, str, and lists, tuples and str-keyed dicts of them, at most
    ``MAX_VALUE_ITEMS`` items in all); None for anything else.

    >>> value_digest({"b": [1, 2.5], "a": None}) == value_digest({"a": None, "b": [1, 2.5]})
    True
    >>> value_digest(object()) is None
    True
    """
    if not _is_plain(value, [MAX_VALUE_ITEMS]):
        return None
    # NaN and infinities are written as JSON's non-standard tokens; they hash stably.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hash_bytes(b"json:" + text.encode())


def _is_plain(value: Any, budget: list[int]) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(item, budget) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(v, budget) for key, v in value.items())
    return False
