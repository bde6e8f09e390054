"""The fast path of small JSON requests whose inputs are all numbers.

Building a one-row DataFrame and handing it to scikit-learn costs about a millisecond;
the same row as a float array costs a fifth of that. For a JSON body whose every value
has exactly the type its signature column takes, :func:`decode_numeric_json` returns
the rows as a 2-d float array in signature order. At the first thing it is not sure of
(a missing or extra key, a null, a string, a non-finite number, too many rows, another
content type) it returns None, and the request takes the full path of
:func:`shipyard.serving._codec.decode_frame`, which accepts it or names every problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from shipyard.models._signature import Signature
    from shipyard.serving._codec import Limits

__all__ = ["decode_numeric_json"]

# bool is a subclass of int: types are compared exactly, never with isinstance.
_FLOAT_TYPES = frozenset({int, float})
_INT_TYPES = frozenset({int})
_BOOL_TYPES = frozenset({bool})


def decode_numeric_json(
    body: bytes, content_type: str | None, signature: Signature | None, limits: Limits
) -> np.ndarray | None:
    """The rows of a JSON body as a float array in signature order, or None whenever the
    full path must decide."""
    if signature is None or not _is_json(content_type):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    names = [column.name for column in signature.inputs]
    rows = _rows(data, names)
    if rows is None or not 0 < len(rows) <= limits.max_rows:
        return None
    allowed = [_types_for(column.dtype) for column in signature.inputs]
    for row in rows:
        for value, types in zip(row, allowed, strict=True):
            if type(value) not in types:
                return None
    matrix = np.array(rows, dtype=np.float64)
    return matrix if np.isfinite(matrix).all() else None


def _is_json(content_type: str | None) -> bool:
    return content_type is None or content_type.split(";", 1)[0].strip() == "application/json"


def _rows(data: Any, names: list[str]) -> list[list[Any]] | None:
    """The rows of the records or columns/data forms, values in ``names`` order."""
    if not isinstance(data, dict):
        return None
    if data.keys() == {"columns", "data"}:
        return _split_rows(data, names)
    if len(data) != 1:
        return None
    ((form, payload),) = data.items()
    if form == "dataframe_split":
        return _split_rows(payload, names)
    if form in ("records", "dataframe_records"):
        return _record_rows(payload, names)
    return None


def _record_rows(payload: Any, names: list[str]) -> list[list[Any]] | None:
    if not isinstance(payload, list):
        return None
    width = len(names)
    rows = []
    for record in payload:
        if type(record) is not dict or len(record) != width:
            return None
        try:
            rows.append([record[name] for name in names])
        except KeyError:
            return None
    return rows


def _split_rows(payload: Any, names: list[str]) -> list[list[Any]] | None:
    if not isinstance(payload, dict) or payload.keys() != {"columns", "data"}:
        return None
    rows = payload["data"]
    if payload["columns"] != names or not isinstance(rows, list):
        return None  # another order or other columns: the full path reorders or refuses
    width = len(names)
    for row in rows:
        if type(row) is not list or len(row) != width:
            return None
    return rows


def _types_for(dtype: str) -> frozenset[type]:
    if dtype == "bool":
        return _BOOL_TYPES
    if dtype.startswith(("int", "uint")):
        return _INT_TYPES
    return _FLOAT_TYPES
