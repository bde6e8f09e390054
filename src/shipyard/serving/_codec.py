"""The request and response codec of the inference endpoint.

Request bodies become a DataFrame holding exactly the signature's input columns, in
signature order, each cast to its dtype; predictions become JSON-able columns. Every body
that cannot be read is refused with a :class:`RequestError` carrying its HTTP status:
400 malformed, 413 too large, 415 unsupported content type, 422 columns that do not match
the signature (all of their problems at once, one ``{"column", "problem"}`` per detail).
Rows in messages count from 0, like the DataFrame's index.

>>> from shipyard.models._signature import ColumnSpec, Signature
>>> signature = Signature(
...     inputs=(ColumnSpec("age", "int64", False), ColumnSpec("score", "float64", False)),
...     outputs=(ColumnSpec("churn", "float64", False),),
... )
>>> body = b'{"records": [{"score": 1, "age": 31}]}'
>>> decode_frame(body, "application/json; charset=utf-8", signature, Limits()).dtypes.to_dict()
{'age': dtype('int64'), 'score': dtype('float64')}
>>> try:
...     decode_frame(b'{"records": [{"age": "x", "score": 1}]}', None, signature, Limits())
... except RequestError as err:
...     print(err.status, err.details)
422 [{'column': 'age', 'problem': "column 'age' has dtype string, expected int64 (row 0: 'x')"}]
>>> prediction_columns(np.array([0.25, np.nan]), signature)
{'churn': [0.25, None]}

The fast path (a parsed JSON list straight into numpy, one DataFrame built from blocks)
handles well-formed requests; only a request that fails it goes through the checks that
find each exact problem.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from shipyard._collector import collector_paused
from shipyard.errors import ModelError, did_you_mean
from shipyard.models._signature import (
    ColumnSpec,
    Signature,
    accepts_dtype,
    dtype_family,
    dtype_name,
    nullable_dtype,
)
from shipyard.serving._errors import RequestError

try:
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # pandas < 3 has no public block constructor: the slower dict one
    create_dataframe_from_blocks = None

__all__ = [
    "CSV",
    "JSON",
    "PARQUET",
    "SUPPORTED_CONTENT_TYPES",
    "Limits",
    "V2Request",
    "decode_frame",
    "decode_v2",
    "encode_v2",
    "prediction_columns",
]

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
_PARQUET_ALIAS = "application/x-parquet"
SUPPORTED_CONTENT_TYPES: tuple[str, ...] = (JSON, CSV, PARQUET, _PARQUET_ALIAS)

_JSON_FORMS = (
    '{"records": [{column: value, ...}, ...]}',
    '{"columns": [...], "data": [[...], ...]}',
    '{"dataframe_records": [...]}',
    '{"dataframe_split": {"columns": [...], "data": [...]}}',
)
_RECORDS_KEYS = ("records", "dataframe_records")
_SPLIT_KEYS = ("columns", "data", "index")  # pandas' orient="split" also writes "index"
_NONE = type(None)
# The Python types of parsed JSON values each dtype family takes (exact types: a bool is
# no integer here).
_JSON_KINDS: dict[str, frozenset[type]] = {
    "integer": frozenset({int}),
    "float": frozenset({int, float}),
    "complex64": frozenset({int, float}),
    "complex128": frozenset({int, float}),
    "bool": frozenset({bool}),
    "string": frozenset({str}),
    "category": frozenset({str, int, float, bool}),
    "object": frozenset({str, int, float, bool, list, dict}),
}
_VALUE_DTYPES = {str: "string", int: "int64", float: "float64", bool: "bool"}
_BOOL_TEXTS = dict.fromkeys(["true", "True", "TRUE", "false", "False", "FALSE", "1", "0"])
_MAX_SHOWN = 5  # problems quoted in a 422 message; the details hold them all

#: Open Inference Protocol datatypes and the signature dtypes they carry.
V2_DATATYPES = {
    "BOOL": "bool",
    **{f"INT{bits}": f"int{bits}" for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": f"uint{bits}" for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": f"float{bits}" for bits in (16, 32, 64)},
    "BYTES": "string",
}
_V2_KEYS = ("id", "parameters", "inputs", "outputs")
_V2_TENSOR_KEYS = ("name", "shape", "datatype", "data", "parameters")
_V2_HINT = (
    'Send {"inputs": [{"name": column, "shape": [n], "datatype": "FP64", "data": [...]}, ...]}'
    " with one tensor per input column, or one [n, k] tensor holding the k columns in"
    " signature order."
)


@dataclass(frozen=True)
class Limits:
    """How much one request may carry; larger batches belong to ``shipyard predict``."""

    max_body_bytes: int = 64 * 1024 * 1024
    max_rows: int = 100_000


@dataclass(frozen=True)
class V2Request:
    """An Open Inference Protocol (KServe V2) request: its id, its inputs as a DataFrame
    and the outputs it asks for (None: all of them)."""

    id: str | None
    frame: pd.DataFrame
    outputs: tuple[str, ...] | None


# ---------------------------------------------------------------------------- decoding


def decode_frame(
    body: bytes, content_type: str | None, signature: Signature | None, limits: Limits
) -> pd.DataFrame:
    """The body of ``POST /v1/models/{name}/predict`` as a DataFrame with exactly the
    signature's input columns, in signature order, each cast to the signature dtype
    (integers are accepted for float columns and cast). Without a signature the columns
    are taken as sent.

    JSON bodies take the forms ``{"records": [...]}``, ``{"columns": [...], "data":
    [...]}`` and MLflow's ``dataframe_records`` / ``dataframe_split``; CSV bodies have a
    header row; Parquet bodies are one table. A missing content type means JSON.
    """
    _check_size(body, limits)
    media_type = (content_type or "").partition(";")[0].strip().lower() or JSON
    if media_type == JSON:
        return _decode_json(body, signature, limits)
    if media_type == CSV:
        return _decode_csv(body, signature, limits)
    if media_type in (PARQUET, _PARQUET_ALIAS):
        return _decode_parquet(body, signature, limits)
    raise RequestError(
        415,
        f"Content type {media_type!r} is not supported; send one of "
        f"{', '.join(SUPPORTED_CONTENT_TYPES)}.",
        hint="Set the Content-Type header to one of them. Pickle is never read: "
        "loading it would run code from the request.",
    )


def decode_v2(body: bytes, signature: Signature | None, limits: Limits) -> V2Request:
    """An Open Inference Protocol (KServe V2) REST request: one tensor per input column
    (shape ``[n]`` or ``[n, 1]``), or a single ``[n, k]`` tensor holding the signature's
    k input columns in order. Without a signature, such a tensor's columns are named
    ``{tensor}_0`` ... ``{tensor}_{k-1}``."""
    _check_size(body, limits)
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise _v2_malformed(f"the body is {_json_kind(payload)}, not an object")
    _check_keys(payload, _V2_KEYS, "the body")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _v2_malformed(f'"id" is {_json_kind(request_id)}, not a string')
    if not isinstance(payload.get("parameters", {}), dict):
        raise _v2_malformed('"parameters" is not an object')
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise _v2_malformed('"inputs" must be a non-empty list of tensors')
    outputs = _v2_outputs(payload.get("outputs"), signature)
    names, columns, convert = _v2_columns(tensors, signature, limits)
    return V2Request(request_id, _conform(names, columns, signature, convert), outputs)


_SPLIT_HINT = "Split the batch into smaller requests, or score it offline with `shipyard predict`."


def _check_size(body: bytes, limits: Limits) -> None:
    if len(body) > limits.max_body_bytes:
        raise RequestError(
            413,
            f"The request body is {len(body):,} bytes; the limit is {limits.max_body_bytes:,}.",
            hint=_SPLIT_HINT,
        )


def _check_rows(rows: int, limits: Limits) -> None:
    if rows > limits.max_rows:
        raise RequestError(
            413,
            f"The request holds {rows:,} rows; the limit is {limits.max_rows:,}.",
            hint=_SPLIT_HINT,
        )
    if rows == 0:
        raise RequestError(422, "The request holds no rows.", hint="Send at least one row.")


# -------------------------------------------------------------------------------- JSON


def _load_json(body: bytes) -> Any:
    pause = collector_paused() if len(body) >= _PAUSE_GC_BYTES else nullcontext()
    try:
        with pause:
            return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(
            400,
            f"The request body is not valid JSON: {exc}.",
            hint="Fix the JSON at that position. JSON carries no NaN or Infinity (send null"
            " where a column is nullable) and nests at most 1,024 levels.",
        ) from exc


# Parsed JSON holds no reference cycles, yet the cyclic collector would walk the heap again
# and again while a large batch is built (4-6x the parse itself): it is paused while a
# large body is parsed.
_PAUSE_GC_BYTES = 64 * 1024


def _json_malformed(problem: str) -> RequestError:
    return RequestError(
        400,
        f"The request body is not a table: {problem}.",
        hint="Send one of the JSON forms " + ", ".join(_JSON_FORMS) + ".",
    )


def _decode_json(body: bytes, signature: Signature | None, limits: Limits) -> pd.DataFrame:
    payload = _load_json(body)
    # JSON spells a boolean only as the literals true and false: a body without either
    # holds none, and the fast path need not look at the type of every value.
    bools = b"true" in body or b"false" in body
    if not isinstance(payload, dict):
        raise _json_malformed(f"it is {_json_kind(payload)}, not an object")
    if "dataframe_split" in payload:
        _check_keys(payload, ("dataframe_split",), "the body")
        split = payload["dataframe_split"]
        if not isinstance(split, dict):
            raise _json_malformed(f'"dataframe_split" is {_json_kind(split)}, not an object')
        return _decode_split(split, '"dataframe_split"', signature, limits, bools)
    key = next((key for key in _RECORDS_KEYS if key in payload), None)
    if key is not None:
        _check_keys(payload, (key,), "the body")
        return _decode_records(payload[key], key, signature, limits, bools)
    if "columns" in payload or "data" in payload:
        return _decode_split(payload, "the body", signature, limits, bools)
    raise _json_malformed(
        "it has the key(s) " + ", ".join(map(repr, payload)) if payload else "it is empty"
    )


def _check_keys(mapping: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    subject = what[0].upper() + what[1:]
    for key in mapping:
        if key not in allowed:
            raise RequestError(
                400,
                f"{subject} has the unknown key {key!r}." + did_you_mean(key, allowed),
                hint=f"{subject} takes the keys {', '.join(allowed)}.",
            )


def _decode_records(
    records: Any, key: str, signature: Signature | None, limits: Limits, bools: bool
) -> pd.DataFrame:
    if not isinstance(records, list):
        raise _json_malformed(f"{key!r} is {_json_kind(records)}, not a list of objects")
    _check_rows(len(records), limits)
    if signature is not None:
        frame = _records_fast(records, _plan(signature), bools)
        if frame is not None:
            return frame
    if set(map(type, records)) != {dict}:
        row, record = next((i, r) for i, r in enumerate(records) if type(r) is not dict)
        raise _json_malformed(f"{key}[{row}] is {_json_kind(record)}, not an object")
    # A record without one of the columns holds null there, as in pandas.from_records.
    names = list(dict.fromkeys(chain.from_iterable(records)))
    if sum(map(len, records)) == len(names) * len(records):
        rows: list[Sequence[Any]] = list(map(_row_getter(names), records))
    else:
        rows = [[record.get(name) for name in names] for record in records]
    return _conform(names, _transpose(rows, len(names)), signature, _json_column)


def _decode_split(
    split: dict[str, Any], what: str, signature: Signature | None, limits: Limits, bools: bool
) -> pd.DataFrame:
    _check_keys(split, _SPLIT_KEYS, what)
    names, rows = split.get("columns"), split.get("data")
    if not isinstance(names, list) or set(map(type, names)) - {str}:
        raise _json_malformed(f'{what} needs "columns": a list of column names (strings)')
    if not isinstance(rows, list):
        raise _json_malformed(f'{what} needs "data": a list of rows, each a list of values')
    _check_rows(len(rows), limits)
    width = len(names)
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {width}:
        row, values = next(
            (i, r) for i, r in enumerate(rows) if type(r) is not list or len(r) != width
        )
        problem = (
            f"has {len(values)} value(s) for {width} column(s)"
            if type(values) is list
            else f"is {_json_kind(values)}, not a list"
        )
        raise _json_malformed(f"data[{row}] {problem}")
    if signature is not None:
        plan = _plan(signature)
        if plan.uniform is not None and names == plan.names:
            frame = _uniform_frame(rows, plan, bools)
            if frame is not None:
                return frame
    return _conform(names, _transpose(rows, width), signature, _json_column)


def _transpose(rows: list[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if width else []


def _row_getter(names: Sequence[str]) -> Callable[[dict[str, Any]], Sequence[Any]]:
    """Fetches a record's values in the order of ``names`` (KeyError if one is absent)."""
    if len(names) <= 1:
        return lambda record: tuple(record[name] for name in names)
    return itemgetter(*names)


# ----------------------------------------------------------------------- the fast path


@dataclass(frozen=True)
class _Plan:
    """What decoding against one signature needs, worked out once per signature."""

    names: list[str]
    columns: pd.Index
    row_getter: Callable[[dict[str, Any]], Sequence[Any]]
    # The one numpy dtype of every input column, when they share a numeric or bool one
    # (most models): the whole request is then a single numpy call.
    uniform: np.dtype | None


# numpy kinds of the array numpy makes of the rows that each uniform dtype takes as is
_UNIFORM_KINDS = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}


@lru_cache(maxsize=64)
def _plan(signature: Signature) -> _Plan:
    names = [spec.name for spec in signature.inputs]
    dtypes = {spec.dtype for spec in signature.inputs}
    (dtype,) = dtypes if len(dtypes) == 1 else ("",)
    numeric = dtype_family(dtype) in ("integer", "float", "bool")
    return _Plan(
        names=names,
        columns=pd.Index(names, dtype=object),
        row_getter=_row_getter(names),
        uniform=np.dtype(dtype) if numeric else None,
    )


def _records_fast(records: list[Any], plan: _Plan, bools: bool) -> pd.DataFrame | None:
    """The frame of records that hold exactly the signature's columns, all of its one
    numeric dtype; None sends them to the checks that name every problem."""
    if plan.uniform is None:
        return None
    try:
        rows = list(map(plan.row_getter, records))
    except (KeyError, TypeError):  # a column is missing or a record is no object
        return None
    if sum(map(len, records)) != len(plan.names) * len(records):  # extra columns
        return None
    return _uniform_frame(rows, plan, bools)


def _uniform_frame(rows: list[Sequence[Any]], plan: _Plan, bools: bool) -> pd.DataFrame | None:
    """The rows as one block of the plan's uniform dtype, or None when numpy's reading of
    them shows anything else: text, nulls, nested values, numbers out of range. ``bools``:
    whether the rows may hold booleans at all."""
    assert plan.uniform is not None
    try:
        block = np.array(rows)
    except (ValueError, OverflowError):  # ragged nested values
        return None
    if not _holds_only_numbers_for(block, rows, plan, bools):
        return None
    with np.errstate(over="ignore"):
        block = block.astype(plan.uniform, copy=False)
    if plan.uniform.kind == "f" and not np.isfinite(block).all():  # float32 overflow
        return None
    return _frame_from_blocks(plan.columns, [(block.T, np.arange(len(plan.names)))], len(rows))


def _holds_only_numbers_for(
    block: np.ndarray, rows: list[Sequence[Any]], plan: _Plan, bools: bool
) -> bool:
    assert plan.uniform is not None
    if block.shape != (len(rows), len(plan.names)):
        return False
    if block.dtype.kind not in _UNIFORM_KINDS[plan.uniform.kind]:
        return False
    # Next to numbers numpy reads true and false as 1 and 0: only where a 0 or 1 shows
    # is it worth looking at the values' types.
    if (
        bools
        and block.dtype.kind != "b"
        and ((block == 0) | (block == 1)).any()
        and bool in set(map(type, chain.from_iterable(rows)))
    ):
        return False
    if plan.uniform.kind in "iu" and block.dtype != plan.uniform:
        info = np.iinfo(plan.uniform)
        return bool(info.min <= block.min() and block.max() <= info.max)
    return True


def _frame(columns: pd.Index, arrays: list[Any]) -> pd.DataFrame:
    """One DataFrame from whole columns (numpy arrays of one dtype stacked as one block)."""
    by_dtype: dict[np.dtype, list[int]] = {}
    blocks = []
    for position, array in enumerate(arrays):
        if isinstance(array, np.ndarray):
            by_dtype.setdefault(array.dtype, []).append(position)
        else:
            blocks.append((array, np.array([position])))
    for positions in by_dtype.values():
        blocks.append((np.stack([arrays[p] for p in positions]), np.array(positions)))
    return _frame_from_blocks(columns, blocks, len(arrays[0]) if arrays else 0)


def _frame_from_blocks(
    columns: pd.Index, blocks: list[tuple[Any, np.ndarray]], rows: int
) -> pd.DataFrame:
    """A DataFrame from pandas blocks: 2-d numpy arrays (columns, rows) or 1-d extension
    arrays, each with the positions of its columns. The general constructor spends
    ~200 µs inspecting 20 columns that are already what they should be."""
    if create_dataframe_from_blocks is not None:
        return create_dataframe_from_blocks(blocks, pd.RangeIndex(rows), columns)
    by_position = {}
    for array, positions in blocks:
        for offset, position in enumerate(positions):
            by_position[position] = array[offset] if isinstance(array, np.ndarray) else array
    data = {i: by_position[i] for i in range(len(columns))}
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False).set_axis(columns, axis=1)


# --------------------------------------------------------- columns against a signature


Converter = Callable[[ColumnSpec, Any], tuple[Any, list[str]]]


def _conform(
    names: list[str],
    columns: Sequence[Any],
    signature: Signature | None,
    convert: Converter,
) -> pd.DataFrame:
    """The frame of the signature's columns from the ``columns`` sent under ``names``,
    each turned into its dtype by ``convert``; or a 422 listing every problem."""
    if not names:
        raise RequestError(422, "The request holds no columns.", hint="Send at least one column.")
    counts = Counter(names)
    found = [
        (name, f"column {name!r} appears more than once") for name, n in counts.items() if n > 1
    ]
    if signature is None:
        _refuse(found, None)
        return _frame(pd.Index(names, dtype=object), [_as_sent(values) for values in columns])
    expected = {spec.name: spec for spec in signature.inputs}
    for name in counts:
        if name not in expected:
            suggestion = did_you_mean(name, expected).strip()  # " Did you mean 'x'?"
            aside = f" ({suggestion[0].lower()}{suggestion[1:]})" if suggestion else ""
            found.append((name, f"column {name!r} is not in the signature{aside}"))
    position = {name: i for i, name in enumerate(names)}
    arrays = []
    for spec in signature.inputs:
        if spec.name not in position:
            found.append((spec.name, f"column {spec.name!r} is missing (expected {spec.dtype})"))
        elif counts[spec.name] == 1:
            array, column_problems = convert(spec, columns[position[spec.name]])
            arrays.append(array)
            found += [(spec.name, problem) for problem in column_problems]
    _refuse(found, signature)
    return _frame(_plan(signature).columns, arrays)


def _refuse(found: list[tuple[str, str]], signature: Signature | None) -> None:
    if not found:
        return
    problems = [problem for _, problem in found]
    shown = "; ".join(problems[:_MAX_SHOWN])
    more = f"; and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
    hint = "Send each column once."
    if signature is not None:
        listed = ", ".join(
            f"{spec.name} ({spec.dtype}{', nullable' if spec.nullable else ''})"
            for spec in signature.inputs[:20]
        )
        hint = (
            f"Send the model's input columns: {listed}"
            + (", ..." if len(signature.inputs) > 20 else "")
            + ". `shipyard models show <model>` lists its signature."
        )
    raise RequestError(
        422,
        f"The request does not match the model's input signature: {shown}{more}.",
        hint=hint,
        details=[{"column": column, "problem": problem} for column, problem in found],
    )


def _as_sent(values: Any) -> Any:
    """A column as sent, for a model without a signature: pandas infers its dtype."""
    column = values if isinstance(values, pd.Series) else pd.Series(list(values))
    return column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array


def _json_column(spec: ColumnSpec, values: Sequence[Any]) -> tuple[Any, list[str]]:
    """A column of parsed JSON values as the array of ``spec``'s dtype, or its problems."""
    family = dtype_family(spec.dtype)
    accepted = _JSON_KINDS.get(family, frozenset({str}))  # dates and durations: text
    kinds = set(map(type, values))
    problems = []
    wrong = kinds - accepted - {_NONE}
    if wrong:
        row = next(i for i, value in enumerate(values) if type(value) in wrong)
        problems.append(_wrong_dtype(spec, _value_dtype(values[row]), row, values[row]))
    nulls = values.count(None) if _NONE in kinds else 0
    if nulls and not spec.nullable:
        problems.append(_null_problem(spec, nulls, values.index(None)))
    if problems:
        return None, problems
    if family in ("integer", "float", "bool") or family.startswith("complex"):
        return _json_numbers(spec, values, nulls)
    if family == "string":
        return _text(values, nulls == len(values)), []
    if family == "category":
        return _categorical(values), []
    # objects may be lists, which numpy would take for another dimension
    column = pd.Series(list(values), dtype=object)
    return (column.to_numpy(), []) if family == "object" else _typed_column(spec, column)


def _json_numbers(spec: ColumnSpec, values: Sequence[Any], nulls: int) -> tuple[Any, list[str]]:
    family = dtype_family(spec.dtype)
    try:
        with np.errstate(over="ignore"):
            if nulls and family in ("integer", "bool"):
                array = pd.array(values, dtype=nullable_dtype(spec.dtype))
            else:
                array = np.array(values, dtype=spec.dtype)  # None becomes NaN
    except (OverflowError, TypeError, ValueError):
        row = next((i for i, value in enumerate(values) if not _fits(value, spec.dtype)), None)
        where = f" (row {row}: {_shown(values[row])})" if row is not None else ""
        return None, [f"column {spec.name!r} has a value out of range for {spec.dtype}{where}"]
    return array, _infinities(spec, array)


def _text(values: Sequence[Any], all_null: bool) -> Any:
    """Text as an object array (a pandas string array costs ~50 µs to build); a column of
    nulls only as a pandas string array, which alone says it holds text."""
    if all_null:
        return pd.array(values, dtype="string")
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _categorical(values: Sequence[Any]) -> pd.Categorical:
    """Values as a categorical, its categories sorted (pandas' own constructor takes
    ~300 µs for one value; codes take ~50)."""
    present = {value for value in values if value is not None}
    categories = sorted(present, key=lambda value: (type(value).__name__, value))
    code = {value: i for i, value in enumerate(categories)}
    codes = np.array([-1 if value is None else code[value] for value in values])
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype=object))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _fits(value: Any, dtype: str) -> bool:
    if value is None:
        return True
    if dtype_family(dtype) == "integer":
        info = np.iinfo(dtype)
        return info.min <= value <= info.max
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _infinities(spec: ColumnSpec, array: Any) -> list[str]:
    if dtype_family(spec.dtype) != "float":
        return []
    infinite = int(np.isinf(array).sum())
    return [f"column {spec.name!r} has {infinite} infinite value(s)"] if infinite else []


def _wrong_dtype(spec: ColumnSpec, actual: str, row: int | None, value: Any = None) -> str:
    where = f" (row {row}: {_shown(value)})" if row is not None else ""
    return f"column {spec.name!r} has dtype {actual}, expected {spec.dtype}{where}"


def _null_problem(spec: ColumnSpec, nulls: int, first: int) -> str:
    what = "null or NaN" if dtype_family(spec.dtype) == "float" else "null"
    return (
        f"column {spec.name!r} has {nulls} {what} value(s) but is not nullable "
        f"(first at row {first})"
    )


def _value_dtype(value: Any) -> str:
    return _VALUE_DTYPES.get(type(value), "object")


def _shown(value: Any) -> str:
    text = repr(value)  # escapes control characters
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------- typed columns


def _typed_column(spec: ColumnSpec, values: pd.Series) -> tuple[Any, list[str]]:
    """A column that arrived with a dtype (CSV, Parquet, or JSON text for dates) as the
    array of ``spec``'s dtype, or its problems."""
    family = dtype_family(spec.dtype)
    actual = dtype_name(values)
    if actual == "string" and family.startswith(("datetime", "timedelta")):
        values = values.mask(values == "")  # no time is empty text: CSV's empty cell, a null
    missing = values.isna()
    nulls = int(missing.sum())
    if nulls == len(values):
        actual = spec.dtype  # a column of nulls only may be of any dtype
    problems = []
    if nulls and not spec.nullable:
        problems.append(_null_problem(spec, nulls, int(missing.to_numpy().argmax())))
    if _readable_as_time(spec.dtype, actual):
        array, parse_problems = _parse_times(spec, values, missing)
        return (None if problems else array), problems + parse_problems
    if not (accepts_dtype(spec.dtype, actual) or (spec.dtype == "category" and actual != "object")):
        row = _first_unreadable(values, family) if actual == "string" else None
        problems.append(_wrong_dtype(spec, actual, row, None if row is None else values.iloc[row]))
    elif family == "integer" and nulls < len(values) and not _in_range(values, spec.dtype):
        problems.append(f"column {spec.name!r} has values out of range for {spec.dtype}")
    if problems:
        return None, problems
    return _cast(spec, values, nulls)


def _readable_as_time(expected: str, actual: str) -> bool:
    """Whether a column of ``actual`` dtype becomes an ``expected`` date or duration:
    text, or times of any unit (and, when both have one, any time zone)."""
    if expected.startswith("timedelta"):
        return actual == "string" or actual.startswith("timedelta")
    if expected.startswith("datetime"):
        return actual == "string" or (
            actual.startswith("datetime") and (", " in actual) == (", " in expected)
        )
    return False


def _cast(spec: ColumnSpec, values: pd.Series, nulls: int) -> tuple[Any, list[str]]:
    family = dtype_family(spec.dtype)
    if family in ("integer", "bool") and nulls:
        return values.astype(nullable_dtype(spec.dtype)).array, []
    if family in ("integer", "bool"):
        return values.to_numpy(dtype=spec.dtype), []
    if family == "float" or family.startswith("complex"):
        with np.errstate(over="ignore"):
            array = values.to_numpy(dtype=spec.dtype, na_value=np.nan)
        return array, _infinities(spec, array)
    if family in ("string", "object"):
        objects = values.to_numpy(dtype=object, na_value=None)
        return (_text(objects, nulls == len(values)) if family == "string" else objects), []
    return values.astype("category").array, []  # the one family left: times were parsed


def _in_range(values: pd.Series, dtype: str) -> bool:
    info = np.iinfo(dtype)
    return bool(info.min <= values.min() and values.max() <= info.max)


def _first_unreadable(texts: pd.Series, family: str) -> int | None:
    """The row of the first text that is no number of ``family`` (CSV reads a numeric
    column with one such cell as text)."""
    read: Callable[[str], Any] = {"integer": int, "bool": _BOOL_TEXTS.__getitem__}.get(
        family, float
    )
    for row, text in enumerate(texts):
        if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
            continue
        try:
            read(text)
        except (KeyError, TypeError, ValueError, OverflowError):
            return row
    return None


def _parse_times(spec: ColumnSpec, values: pd.Series, missing: pd.Series) -> tuple[Any, list[str]]:
    """Dates (ISO 8601 text or datetimes) or durations as ``spec``'s dtype."""
    zone = spec.dtype.partition(", ")[2].rstrip("]")
    try:
        if spec.dtype.startswith("timedelta"):
            parsed = pd.to_timedelta(values, errors="coerce")
        else:
            parsed = pd.to_datetime(values, format="ISO8601", utc=bool(zone), errors="coerce")
            parsed = parsed.dt.tz_convert(zone) if zone else parsed
        unread = parsed.isna().to_numpy() & ~missing.to_numpy()
        if unread.any():
            row = int(unread.argmax())
            return None, [_wrong_dtype(spec, dtype_name(values), row, values.iloc[row])]
        return parsed.astype(spec.dtype).array, []
    except (ValueError, TypeError, OverflowError) as exc:  # mixed zones, out of range
        return None, [f"column {spec.name!r} cannot be read as {spec.dtype}: {exc}"]


# --------------------------------------------------------------------- CSV and Parquet


def _decode_csv(body: bytes, signature: Signature | None, limits: Limits) -> pd.DataFrame:
    import pyarrow as pa
    from pyarrow import csv

    # Text columns are read as text ("01234" stays so); numbers, booleans and their nulls
    # are left to the reader.
    as_text = {
        spec.name: pa.string()
        for spec in (signature.inputs if signature else ())
        if dtype_family(spec.dtype) not in ("integer", "float", "bool")
    }
    try:
        table = csv.read_csv(
            pa.BufferReader(body), convert_options=csv.ConvertOptions(column_types=as_text)
        )
    except (pa.ArrowException, ValueError) as exc:
        raise RequestError(
            400,
            f"The request body is not valid CSV: {exc}",
            hint="Send comma-separated UTF-8 text with a header row naming the columns.",
        ) from exc
    return _table_frame(table, signature, limits, "CSV")


def _decode_parquet(body: bytes, signature: Signature | None, limits: Limits) -> pd.DataFrame:
    import pyarrow as pa
    from pyarrow import parquet

    try:
        parquet_file = parquet.ParquetFile(pa.BufferReader(body))
        rows = parquet_file.metadata.num_rows
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _parquet_malformed(exc) from exc
    _check_rows(rows, limits)  # before reading the data
    try:
        table = parquet_file.read()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _parquet_malformed(exc) from exc
    return _table_frame(table, signature, limits, "Parquet")


def _parquet_malformed(exc: Exception) -> RequestError:
    return RequestError(
        400,
        f"The request body is not a valid Parquet file: {exc}",
        hint="Send one Parquet file, e.g. the bytes DataFrame.to_parquet() writes.",
    )


def _table_frame(
    table: Any, signature: Signature | None, limits: Limits, what: str
) -> pd.DataFrame:
    import pyarrow as pa

    _check_rows(table.num_rows, limits)
    try:
        table.validate(full=True)  # text that is not UTF-8 would fail later, anywhere
        # The body's pandas metadata is not trusted (a corrupt one breaks pyarrow's
        # reading of it): only the names of the index columns it lists are taken.
        frame = table.drop_columns(_index_columns(table.schema)).to_pandas(
            ignore_metadata=True,
            types_mapper=None if signature is None else _nullable_arrow_types(),
        )
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise RequestError(
            400,
            f"The {what} body holds columns that cannot be read: {exc}",
            hint="Send flat columns of numbers, booleans, text or timestamps.",
        ) from exc
    names = [str(name) for name in frame.columns]
    return _conform(names, [frame.iloc[:, i] for i in range(len(names))], signature, _typed_column)


def _index_columns(schema: Any) -> list[str]:
    """The columns to_parquet() wrote for a DataFrame's index (that of a filtered frame)."""
    try:
        listed = schema.pandas_metadata["index_columns"]
    except (KeyError, TypeError, ValueError):  # no pandas metadata, or unreadable
        return []
    if not isinstance(listed, list):
        return []
    return [name for name in listed if isinstance(name, str) and name in schema.names]


@lru_cache(maxsize=1)
def _nullable_arrow_types() -> Callable[[Any], Any]:
    """pyarrow's ``types_mapper`` that keeps integers and booleans with nulls as such
    (by default they become floats and objects)."""
    import pyarrow as pa

    kinds = [(f"int{bits}", f"Int{bits}") for bits in (8, 16, 32, 64)]
    kinds += [(f"uint{bits}", f"UInt{bits}") for bits in (8, 16, 32, 64)]
    mapping = {pa.type_for_alias(arrow): pd.api.types.pandas_dtype(ours) for arrow, ours in kinds}
    mapping[pa.bool_()] = pd.BooleanDtype()
    return mapping.get


# ---------------------------------------------------------------------------- V2 tensors


def _v2_malformed(problem: str) -> RequestError:
    return RequestError(
        400, f"The request is not a valid V2 inference request: {problem}.", hint=_V2_HINT
    )


def _v2_columns(
    tensors: list[Any], signature: Signature | None, limits: Limits
) -> tuple[list[str], list[Sequence[Any]], Converter]:
    """The columns of the input tensors (names and values) and the converter that
    refuses a column whose tensor datatype its signature dtype does not accept."""
    names: list[str] = []
    columns: list[Sequence[Any]] = []
    datatypes: dict[str, str] = {}
    rows = None
    for tensor in tensors:
        name, shape, dtype, values = _v2_tensor(tensor, limits)
        if rows is not None and shape[0] != rows:
            raise _v2_malformed(f"input {name!r} has {shape[0]} rows, the first input {rows}")
        rows = shape[0]
        width = shape[1] if len(shape) == 2 else 1
        if _is_matrix(name, width, tensors, signature):
            tensor_names = (
                [spec.name for spec in signature.inputs]
                if signature
                else [f"{name}_{j}" for j in range(width)]
            )
            columns += [values[j::width] for j in range(width)]
        elif width == 1:
            tensor_names = [name]
            columns.append(values)
        else:
            raise _v2_malformed(
                f"input {name!r} has shape {shape}: a tensor per column has shape [n] or"
                " [n, 1]; a single [n, k] tensor holds all k input columns"
            )
        names += tensor_names
        datatypes.update(dict.fromkeys(tensor_names, dtype))

    def convert(spec: ColumnSpec, values: Sequence[Any]) -> tuple[Any, list[str]]:
        if not _v2_accepts(spec.dtype, datatypes[spec.name]):
            return None, [_wrong_dtype(spec, datatypes[spec.name], None)]
        return _json_column(spec, values)

    return names, columns, convert


def _is_matrix(name: str, width: int, tensors: list[Any], signature: Signature | None) -> bool:
    """Whether a tensor is the single [n, k] tensor holding every input column."""
    if len(tensors) != 1:
        return False
    if signature is None:
        return width > 1
    return width == len(signature.inputs) and (
        width > 1 or name not in {spec.name for spec in signature.inputs}
    )


def _v2_accepts(expected: str, tensor_dtype: str) -> bool:
    """Whether a tensor of ``tensor_dtype`` may fill a column of ``expected`` dtype."""
    family = dtype_family(expected)
    if tensor_dtype == "string":  # BYTES: text, read as the column needs
        return family in ("string", "category", "object") or family.startswith(
            ("datetime", "timedelta")
        )
    return accepts_dtype(expected, tensor_dtype) or family in ("category", "object")


def _v2_tensor(tensor: Any, limits: Limits) -> tuple[str, list[int], str, list[Any]]:
    """A tensor's name, shape, normalized dtype and flat data, each checked."""
    if not isinstance(tensor, dict):
        raise _v2_malformed(f"an input is {_json_kind(tensor)}, not a tensor object")
    _check_keys(tensor, _V2_TENSOR_KEYS, "an input tensor")
    name, shape, datatype, data = (tensor.get(key) for key in _V2_TENSOR_KEYS[:4])
    if not isinstance(name, str):
        raise _v2_malformed('an input has no "name" string')
    if (
        not isinstance(shape, list)
        or len(shape) not in (1, 2)
        or any(type(size) is not int or size < 0 for size in shape)
    ):
        raise _v2_malformed(f'input {name!r} needs a "shape" [n] or [n, k] of counts')
    if not isinstance(datatype, str) or datatype not in V2_DATATYPES:
        raise _v2_malformed(
            f"input {name!r} has the datatype {datatype!r}; one of {', '.join(V2_DATATYPES)}"
        )
    _check_rows(shape[0], limits)  # before reading the data
    if not isinstance(data, list):
        raise _v2_malformed(f'input {name!r} needs "data": a list of values')
    if data and set(map(type, data)) == {list}:  # nested by rows: flatten one level
        data = list(chain.from_iterable(data))
    if len(data) != math.prod(shape):
        raise _v2_malformed(f"input {name!r} has shape {shape} but {len(data)} value(s)")
    dtype = V2_DATATYPES[datatype]
    wrong = set(map(type, data)) - _JSON_KINDS[dtype_family(dtype)]
    if wrong:
        row, value = next((i, v) for i, v in enumerate(data) if type(v) in wrong)
        raise _v2_malformed(f"input {name!r} is {datatype} but data[{row}] is {_shown(value)}")
    return name, shape, dtype, data


def _v2_outputs(outputs: Any, signature: Signature | None) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or any(
        not isinstance(output, dict) or not isinstance(output.get("name"), str)
        for output in outputs
    ):
        raise _v2_malformed('"outputs" must be a list of {"name": output} objects')
    names = tuple(output["name"] for output in outputs)
    if signature is not None:
        known = [spec.name for spec in signature.outputs]
        _check_outputs(names, known)
    return names


def _check_outputs(requested: Sequence[str], known: Sequence[str]) -> None:
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise RequestError(
            400,
            f"The request asks for the output(s) {', '.join(map(repr, unknown))}, which the"
            " model does not return." + did_you_mean(unknown[0], known),
            hint=f'The model returns {", ".join(known)}; leave out "outputs" for all of them.',
        )


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")


# ---------------------------------------------------------------------------- responses


def prediction_columns(predictions: Any, signature: Signature | None) -> dict[str, list[Any]]:
    """Predictions as JSON-able columns: name -> list of plain Python values (numpy
    scalars converted, NaN, infinities and missing values as None, times as ISO 8601).

    A DataFrame keeps its column names. Otherwise the names are the signature's outputs
    when their number matches, else "prediction" for 1-d predictions (or a Series' name)
    and "prediction_0", "prediction_1", ... for 2-d ones.
    """
    outputs = [spec.name for spec in signature.outputs] if signature else []
    if isinstance(predictions, pd.DataFrame):
        return {
            str(name): _json_list(predictions.iloc[:, i])
            for i, name in enumerate(predictions.columns)
        }
    if isinstance(predictions, pd.Series):
        name = outputs[0] if len(outputs) == 1 else str(predictions.name or "prediction")
        return {name: _json_list(predictions)}
    array = np.asarray(predictions)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 1:
        return {outputs[0] if len(outputs) == 1 else "prediction": _json_list(array)}
    if array.ndim == 2:
        width = array.shape[1]
        names = outputs if len(outputs) == width else [f"prediction_{j}" for j in range(width)]
        return {name: _json_list(array[:, j]) for j, name in enumerate(names)}
    raise ModelError(
        f"The model's predictions have {array.ndim} dimensions; an endpoint returns 1 or 2.",
        hint="Serve a model whose predict() returns an array, a Series or a DataFrame.",
    )


def _json_list(values: np.ndarray | pd.Series) -> list[Any]:
    dtype = values.dtype
    if isinstance(values, np.ndarray) and dtype.kind in "mM":
        values = pd.Series(values)  # numpy turns nanosecond times into integers
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return values.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        array = np.asarray(values)
        if np.isfinite(array).all():
            return array.tolist()
        return [value if math.isfinite(value) else None for value in array.tolist()]
    return [_plain(value) for value in np.asarray(values, dtype=object)]


def _plain(value: Any) -> Any:
    """One value as JSON can carry it."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, timedelta):
        return pd.Timedelta(value).isoformat()
    if hasattr(value, "isoformat"):  # datetime, date, Timestamp
        return value.isoformat()
    if isinstance(value, (str, int, list, dict)):
        return value
    return str(value)  # complex numbers, bytes, ...: their text


def encode_v2(
    request_id: str,
    model: str,
    version: int,
    columns: dict[str, list[Any]],
    requested: tuple[str, ...] | None,
) -> dict[str, Any]:
    """The V2 response body for ``columns`` (from :func:`prediction_columns`): one 1-d
    tensor per output, only the ``requested`` ones (in that order) when given."""
    names = list(columns) if requested is None else list(requested)
    _check_outputs(names, list(columns))
    return {
        "model_name": model,
        "model_version": str(version),
        "id": request_id,
        "outputs": [
            {
                "name": name,
                "shape": [len(columns[name])],
                "datatype": _v2_datatype(columns[name]),
                "data": columns[name],
            }
            for name in names
        ],
    }


def _v2_datatype(values: list[Any]) -> str:
    kinds = set(map(type, values)) - {_NONE}
    if kinds == {bool}:
        return "BOOL"
    if kinds == {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"
