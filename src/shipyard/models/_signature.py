"""Model signatures: the columns a model takes and returns, with dtypes and nullability.

A signature is inferred from an input example when a model is packaged, checked before
every prediction, compared between versions before a promotion, and used to restore the
dtypes of the input example from its JSON. Dtypes are normalized strings ("int64",
"float64", "bool", "string", "category", "datetime64[ns]", ...) so that the same column
reads the same whether pandas keeps strings as objects or as its string dtype.

>>> import pandas as pd
>>> example = pd.DataFrame({"age": [31, 45], "plan": ["basic", "pro"]})
>>> signature = infer_signature(example, [0.2, 0.7])
>>> [f"{column.name}: {column.dtype}" for column in signature.inputs + signature.outputs]
['age: int64', 'plan: string', 'prediction: float64']
>>> for problem in signature.problems(pd.DataFrame({"age": [1.5, None]})):
...     print(problem)
column 'age' has dtype float64, expected int64
column 'age' has 1 null value(s) but is not nullable
column 'plan' is missing (expected string)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import ModelError, SignatureError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ColumnSpec",
    "Signature",
    "accepts_dtype",
    "dtype_family",
    "dtype_name",
    "example_from_records",
    "example_to_json",
    "infer_signature",
    "nullable_dtype",
]

_DTYPE = re.compile(
    r"bool|string|category|object|u?int(8|16|32|64)|float(16|32|64)|complex(64|128)"
    r"|datetime64\[[a-z]+(, .+)?\]|timedelta64\[[a-z]+\]"
)
_COLUMN_KEYS = ("name", "dtype", "nullable")
_SIGNATURE_KEYS = ("inputs", "outputs")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, normalized dtype and whether it may hold nulls."""

    name: str
    dtype: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "nullable": self.nullable}


@dataclass(frozen=True)
class Signature:
    """The input columns a model takes, in order, and the output columns it returns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the package manifest."""
        return {
            "inputs": [column.to_dict() for column in self.inputs],
            "outputs": [column.to_dict() for column in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        """Read :meth:`to_dict`'s form; a malformed one is a ModelError naming the fault."""
        mapping = _mapping(data, "the signature", _SIGNATURE_KEYS)
        return cls(
            inputs=_columns_from(mapping["inputs"], "inputs"),
            outputs=_columns_from(mapping["outputs"], "outputs"),
        )

    def problems(self, df: pd.DataFrame) -> list[str]:
        """Every way ``df`` does not match the inputs, one message per problem, each naming
        its column: missing, extra or repeated columns, wrong dtypes (integers are fine
        for float columns), and nulls in columns that are not nullable."""
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            return [f"the data is a {type(df).__name__}, not a pandas DataFrame"]
        found: list[str] = []
        names = [str(name) for name in df.columns]
        for name in dict.fromkeys(name for name in names if names.count(name) > 1):
            found.append(f"column {name!r} appears more than once")
        expected = {column.name: column for column in self.inputs}
        for position, name in enumerate(names):
            column = expected.get(name)
            if column is None:
                found.append(f"column {name!r} is not in the signature")
            elif names.count(name) == 1:
                found.extend(_column_problems(column, df.iloc[:, position]))
        found.extend(
            f"column {column.name!r} is missing (expected {column.dtype})"
            for column in self.inputs
            if column.name not in names
        )
        return found

    def validate(self, df: pd.DataFrame) -> None:
        """Raise :class:`SignatureError` listing every problem :meth:`problems` finds."""
        found = self.problems(df)
        if found:
            raise SignatureError(
                "The data does not match the model's input signature: " + "; ".join(found) + "."
            )

    def incompatibilities(self, other: Signature) -> list[str]:
        """What keeps a model with this signature from replacing one with ``other``,
        whose callers send ``other``'s inputs and read ``other``'s outputs."""
        found = []
        sent = {column.name: column for column in other.inputs}
        for column in self.inputs:
            before = sent.get(column.name)
            if before is None:
                found.append(f"input column {column.name!r} is new: callers do not send it")
            elif not accepts_dtype(column.dtype, before.dtype):
                found.append(_changed("input", before, column))
            elif before.nullable and not column.nullable:
                found.append(f"input column {column.name!r} no longer accepts nulls")
        taken = {column.name for column in self.inputs}
        found += [
            f"input column {name!r} was removed: callers send it"
            for name in sent
            if name not in taken
        ]
        made = {column.name: column for column in self.outputs}
        for column in other.outputs:
            now = made.get(column.name)
            if now is None:
                found.append(f"output column {column.name!r} was removed")
            elif not accepts_dtype(column.dtype, now.dtype):
                found.append(_changed("output", column, now))
        read = {column.name for column in other.outputs}
        found += [f"output column {name!r} is new" for name in made if name not in read]
        return found


def _changed(part: str, before: ColumnSpec, after: ColumnSpec) -> str:
    return f"{part} column {before.name!r} changed dtype from {before.dtype} to {after.dtype}"


def infer_signature(example: pd.DataFrame, predictions: Any) -> Signature:
    """The signature of a model that maps ``example`` to ``predictions``.

    ``predictions`` may be a DataFrame (its columns), a Series (its name, or
    "prediction"), a 1-d array or list (one column "prediction") or a 2-d array
    (columns "prediction_0", "prediction_1", ...). A column is nullable when the example
    holds a null in it.
    """
    import pandas as pd

    if not isinstance(example, pd.DataFrame):
        raise ModelError(
            f"The input example is a {type(example).__name__}, not a pandas DataFrame.",
            hint="Pass a few rows of the model's input as a DataFrame, e.g. X_test.head().",
        )
    unnamed = [name for name in example.columns if not isinstance(name, str)]
    if unnamed:
        raise ModelError(
            f"The input example has column names that are not strings: {unnamed[:5]}.",
            hint="Name the columns (df.columns = [...]) before packaging the model.",
        )
    return Signature(inputs=_columns_of(example), outputs=_columns_of(_as_frame(predictions)))


def _as_frame(predictions: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return predictions.rename(columns=str)
    if isinstance(predictions, pd.Series):
        return predictions.to_frame(str(predictions.name or "prediction"))
    array = np.asarray(predictions)
    if array.ndim == 1:
        return pd.DataFrame({"prediction": array})
    if array.ndim == 2:
        return pd.DataFrame(array, columns=[f"prediction_{i}" for i in range(array.shape[1])])
    raise ModelError(
        f"The model's predictions have {array.ndim} dimensions; a signature describes 1 or 2.",
        hint="Package a model whose predict() returns an array, a Series or a DataFrame.",
    )


def _columns_of(frame: pd.DataFrame) -> tuple[ColumnSpec, ...]:
    return tuple(
        ColumnSpec(str(name), dtype_name(frame[name]), bool(frame[name].isna().any()))
        for name in frame.columns
    )


def dtype_name(values: pd.Series) -> str:
    """The normalized dtype of a column: numpy's name for numbers (nullable pandas
    integers included), "string" for text whatever its storage, "bool" for booleans."""
    import pandas as pd
    from pandas.api import types

    dtype = values.dtype
    if types.is_object_dtype(dtype):
        kind = types.infer_dtype(values, skipna=True)
        return {"string": "string", "boolean": "bool"}.get(kind, "object")
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_string_dtype(dtype):
        return "string"
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and types.is_numeric_dtype(dtype):
        return str(dtype.numpy_dtype)  # type: ignore[attr-defined]  # Int64 -> int64
    return str(dtype)


def dtype_family(dtype: str) -> str:
    if dtype.startswith(("int", "uint")):
        return "integer"
    if dtype.startswith("float"):
        return "float"
    if dtype.startswith("datetime64["):
        return "datetime" + (dtype.partition(",")[2] or "]")  # the time zone counts, the unit not
    return dtype


def accepts_dtype(expected: str, actual: str) -> bool:
    """Whether a column of dtype ``actual`` is fine where ``expected`` is declared."""
    wanted, got = dtype_family(expected), dtype_family(actual)
    return wanted == got or (wanted == "float" and got == "integer")


def _column_problems(column: ColumnSpec, values: pd.Series) -> list[str]:
    found = []
    actual = dtype_name(values)
    if not accepts_dtype(column.dtype, actual):
        found.append(f"column {column.name!r} has dtype {actual}, expected {column.dtype}")
    if not column.nullable:
        nulls = int(values.isna().sum())
        if nulls:
            found.append(f"column {column.name!r} has {nulls} null value(s) but is not nullable")
    return found


def _mapping(data: Any, what: str, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _malformed(f"{what} is a {type(data).__name__}, not a mapping.")
    for key in data:
        if key not in keys:
            raise _malformed(f"{what} has an unknown key {key!r}." + did_you_mean(str(key), keys))
    missing = [key for key in keys if key not in data]
    if missing:
        raise _malformed(f"{what} lacks the key(s) {', '.join(map(repr, missing))}.")
    return data


def _columns_from(items: Any, part: str) -> tuple[ColumnSpec, ...]:
    if not isinstance(items, list):
        raise _malformed(f"signature {part} is a {type(items).__name__}, not a list.")
    columns = []
    for position, item in enumerate(items):
        what = f"signature {part} column {position + 1}"
        entry = _mapping(item, what, _COLUMN_KEYS)
        name, dtype, nullable = entry["name"], entry["dtype"], entry["nullable"]
        if not isinstance(name, str) or not name:
            raise _malformed(f"{what} has the name {name!r}; expected a non-empty string.")
        if not isinstance(dtype, str) or not _DTYPE.fullmatch(dtype):
            raise _malformed(f"{what} ({name!r}) has the unknown dtype {dtype!r}.")
        if not isinstance(nullable, bool):
            raise _malformed(
                f"{what} ({name!r}) has nullable {nullable!r}; expected true or false."
            )
        columns.append(ColumnSpec(name, dtype, nullable))
    repeated = sorted({c.name for c in columns if [d.name for d in columns].count(c.name) > 1})
    if repeated:
        raise _malformed(f"signature {part} names the column(s) {repeated} more than once.")
    return tuple(columns)


def _malformed(problem: str) -> ModelError:
    return ModelError(
        f"The model signature is malformed: {problem}",
        hint="A signature is written by shipyard.models.package(); do not edit it by hand.",
    )


def example_to_json(example: pd.DataFrame) -> str:
    """An input example as JSON records, in a form :func:`example_from_records` reads
    back to the same dtypes (dates as ISO 8601 text, nulls as null)."""
    return example.to_json(orient="records", date_format="iso", date_unit="ns", indent=1)


def example_from_records(
    records: Sequence[Mapping[str, Any]], columns: Sequence[ColumnSpec]
) -> pd.DataFrame:
    """The DataFrame of an input example read from JSON records, each column cast back
    to its dtype in the signature (integer and bool columns with nulls become pandas'
    nullable Int64 / boolean, which normalize to the same dtype)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(records), columns=[c.name for c in columns])
    for column in columns:
        frame[column.name] = _restored(frame[column.name], column.dtype)
    return frame


def nullable_dtype(dtype: str) -> str:
    """pandas' nullable spelling of an integer or bool dtype: Int64, UInt8, boolean."""
    if dtype == "bool":
        return "boolean"
    return "UInt" + dtype[4:] if dtype.startswith("uint") else dtype.capitalize()


def _restored(values: pd.Series, dtype: str) -> pd.Series:
    import pandas as pd

    family = dtype_family(dtype)
    has_nulls = bool(values.isna().any())
    if family == "integer" or dtype == "bool":
        return values.astype(nullable_dtype(dtype) if has_nulls else dtype)
    if family == "float" or dtype == "category":
        return values.astype(dtype)
    if family.startswith("datetime"):
        zone = dtype.partition(", ")[2].rstrip("]")
        moments = pd.to_datetime(values, utc=bool(zone), format="ISO8601")
        return (moments.dt.tz_convert(zone) if zone else moments).astype(dtype)
    if dtype.startswith("timedelta64"):
        return pd.to_timedelta(values).astype(dtype)
    return values
