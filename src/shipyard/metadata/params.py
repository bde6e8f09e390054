"""A run's parameters: flattened to dotted keys, stored as JSON text, immutable once logged.

>>> log(conn, run_id, {"model": {"C": 0.5, "kernel": "rbf"}})  # doctest: +SKIP
>>> of_run(conn, run_id)  # doctest: +SKIP
{'model.C': 0.5, 'model.kernel': 'rbf'}
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, select

from shipyard.errors import ParamConflictError
from shipyard.metadata._portable import insert
from shipyard.metadata._schema import params

__all__ = ["flatten", "log", "of_run", "to_json"]

_CHUNK = 500  # keys per IN (...) list


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    return dict(_flat_items(values, prefix))


def _flat_items(values: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flat_items(value, dotted + ".")
        else:
            yield dotted, value


def to_json(value: Any) -> str:
    """A param value as the JSON text that is stored (numpy scalars become numbers)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(value)


def log(conn: Connection, run_id: str, values: Mapping[str, Any]) -> None:
    """Record params (nested mappings are flattened). Logging the same value again is fine.

    Raises :class:`ParamConflictError` naming the key and both values when a key already
    has a different value; nothing of this call is written then.
    """
    wanted = {key: to_json(value) for key, value in flatten(values).items()}
    if not wanted:
        return
    stored = _stored(conn, run_id, list(wanted))
    _check_same(run_id, wanted, stored)
    missing = [key for key in wanted if key not in stored]
    if not missing:
        return
    conn.execute(
        insert(conn, params).on_conflict_do_nothing(index_elements=["run_id", "key"]),
        [{"run_id": run_id, "key": key, "value": wanted[key]} for key in missing],
    )
    # A concurrent writer may have logged some of them first, maybe with other values.
    _check_same(run_id, wanted, _stored(conn, run_id, missing))


def of_run(conn: Connection, run_id: str) -> dict[str, Any]:
    """Every param of a run, by dotted key, as the values that were logged."""
    rows = conn.execute(
        select(params.c.key, params.c.value).where(params.c.run_id == run_id).order_by("key")
    )
    return {key: json.loads(value) for key, value in rows}


def _stored(conn: Connection, run_id: str, keys: list[str]) -> dict[str, str]:
    stored: dict[str, str] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_id == run_id, params.c.key.in_(chunk)
            )
        )
        stored.update((key, value) for key, value in rows)
    return stored


def _check_same(run_id: str, wanted: Mapping[str, str], stored: Mapping[str, str]) -> None:
    for key, old in stored.items():
        if wanted[key] != old:
            raise ParamConflictError(
                f"Param '{key}' of run {run_id} is already {old}; it cannot become {wanted[key]}."
            )
