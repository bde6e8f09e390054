"""Plain-data trees (what YAML gives back): deep merge and cheap defensive copies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["copy_tree", "deep_merge"]


def deep_merge(base: Mapping[Any, Any], override: Mapping[Any, Any]) -> dict[Any, Any]:
    """``override`` laid over ``base``: mappings merge key by key, anything else replaces.

    Neither argument is modified.

    >>> deep_merge({"model": {"C": 1, "penalty": "l2"}}, {"model": {"C": 0.5}})
    {'model': {'C': 0.5, 'penalty': 'l2'}}
    """
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def copy_tree(value: Any) -> Any:
    """A copy of every dict and list in ``value``; scalars are immutable and shared.

    Several times faster than ``copy.deepcopy`` on config-shaped data, which matters
    because every ``ConfigLoader.get`` hands out a fresh copy of its cache.
    """
    if isinstance(value, dict):
        return {key: copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_tree(item) for item in value]
    return value
